"""The errors of the user's machine: the vault, the native-messaging host, its authenticators and the CLI.

Every error a user can meet carries a stable snake_case ``code`` (sent over the native-messaging
protocol and used for CLI exit codes) and a message that says what to do. The server side has its own
hierarchy in ``verifier/errors.py``: the two halves share no code (see docs/developer-guide.md).
"""

from __future__ import annotations


class Tracker2faError(Exception):
    """Base class. ``code`` is stable and machine-readable; ``str(err)`` is for people."""

    code = "internal_error"

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message or self.__doc__ or self.code)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0])


class BadRequest(Tracker2faError):
    """The request is malformed: a missing or mistyped parameter."""

    code = "bad_request"


class VaultError(Tracker2faError):
    """Base class for vault errors."""

    code = "vault_error"


class VaultNotFound(VaultError):
    """No vault exists at this path yet; create one with `tracker2fa vault init`."""

    code = "vault_not_found"


class VaultExists(VaultError):
    """A vault already exists at this path; refusing to overwrite it."""

    code = "vault_exists"


class VaultLocked(VaultError):
    """The vault is locked; unlock it first."""

    code = "vault_locked"


class WrongPassword(VaultError):
    """The password does not open this vault."""

    code = "wrong_password"


class VaultCorrupt(VaultError):
    """The vault file cannot be read (truncated, not JSON, or an unknown layout). It was left untouched."""

    code = "vault_corrupt"


class VaultTampered(VaultError):
    """The vault file failed its integrity check (header or ciphertext modified). It was left untouched."""

    code = "vault_tampered"


class UnsupportedVersion(VaultError):
    """The vault was written by a newer tracker2fa; upgrade to open it."""

    code = "unsupported_version"


class EntryNotFound(VaultError):
    """No vault entry has this id or name."""

    code = "entry_not_found"


class AmbiguousEntry(VaultError):
    """More than one entry matches this name; use the entry id."""

    code = "ambiguous_entry"


class OriginNotAllowed(VaultError):
    """This entry is not bound to the requesting origin."""

    code = "origin_not_allowed"


class InvalidOrigin(BadRequest):
    """The origin is not a valid web origin (scheme://host[:port])."""

    code = "invalid_origin"


class InvalidUri(BadRequest):
    """The otpauth:// URI is invalid."""

    code = "invalid_uri"


class InvalidSecret(BadRequest):
    """The OTP secret is not valid Base32 or is empty."""

    code = "invalid_secret"


class ImportFailed(Tracker2faError):
    """The import file cannot be read. Nothing was imported."""

    code = "import_failed"


class ImportNeedsPassword(ImportFailed):
    """The import file is encrypted; give its password."""

    code = "import_needs_password"


class ImportWrongPassword(ImportFailed):
    """The password does not decrypt this import file. Nothing was imported."""

    code = "import_wrong_password"


class UnknownImportFormat(ImportFailed):
    """The import file's format was not recognised; name it with --format."""

    code = "unknown_import_format"


class ExportRefused(Tracker2faError):
    """Plain-text export needs explicit confirmation (it writes secrets unencrypted)."""

    code = "export_refused"


class Cancelled(Tracker2faError):
    """The request was cancelled."""

    code = "cancelled"
