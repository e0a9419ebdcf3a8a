"""The verifier's error hierarchy: what the server side (service, store, HTTP API, mock, CLI) can refuse.

Written here rather than shared with ``native_host.errors`` on purpose: the user's machine and the server
share no code (a bare host install carries no verifier, a server install needs no host). The shape is the
same on both sides: a stable snake_case ``code`` (the HTTP reply's ``error.code``) and a message that says
what to do.
"""

from __future__ import annotations


class VerifierError(Exception):
    """Base class. ``code`` is stable and machine-readable; ``str(err)`` is for people."""

    code = "verifier_error"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message or self.__doc__ or self.code)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0])


class BadRequest(VerifierError):
    """The request is malformed: a missing or mistyped parameter."""

    code = "bad_request"


class UserNotFound(VerifierError):
    """The verifier has no user with this name."""

    code = "user_not_found"


class UserExists(VerifierError):
    """A user with this name already exists."""

    code = "user_exists"


class CredentialNotFound(VerifierError):
    """This user has no security key with this credential id."""

    code = "credential_not_found"


class InvalidPolicy(BadRequest):
    """The policy is invalid (unknown mode, bad CIDR, or a number out of its range)."""

    code = "invalid_policy"


class PolicyConflict(VerifierError):
    """The policy kept changing (other admins) while this change was being made: try again."""

    code = "policy_conflict"


class WebAuthnRejected(BadRequest):
    """The WebAuthn request or response was rejected (wrong origin, challenge, signature or format)."""

    code = "webauthn_rejected"


class VerifierConfigError(VerifierError):
    """The verifier's configuration is invalid (database URL, server key)."""

    code = "verifier_config_error"
