"""What the verifier answers: typed, frozen results (with ``to_dict()`` and read access by field name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from ..core.record import Record


@dataclass(frozen=True)
class VerifyResult(Record):
    """The outcome of one verification.

    ``reason``: ok | invalid | replay | locked | not_enrolled | expired | counter_regression.
    ``retry_after``: seconds until a lock lifts (set with ``locked``, and on the failure that starts one).
    """

    ok: bool
    reason: str
    retry_after: float | None = None


OK = VerifyResult(True, "ok")


@dataclass(frozen=True)
class UserStatus(Record):
    """What the tracker needs to decide the next login step for one user."""

    username: str
    groups: list[str]
    totp: bool
    webauthn: int  # registered security keys
    backup_codes_left: int
    required: bool  # the policy asks this user for a second factor (before any IP allowlist)
    locked_until: float | None
    excluded_until: float | None
    remembered_devices: int
    email: str | None = None  # where the user's notices go (None: no address known)


@dataclass(frozen=True)
class TotpEnrolment(Record):
    """A pending TOTP secret as an authenticator app takes it: base32, otpauth URI, QR code, and the
    parameters and issuer label the URI carries (the policy's, when the enrolment began)."""

    secret: str
    uri: str
    qr_svg: str
    digits: int
    period: int
    algorithm: str
    issuer: str


@dataclass(frozen=True)
class CredentialInfo(Record):
    """One registered security key as its owner and the admin see it (no key material)."""

    id: str
    name: str
    created: float
    last_used: float | None
    sign_count: int
    legacy_u2f: bool


@dataclass(frozen=True)
class PolicySettings(Record):
    """The policy as stored and shown (see verifier.core.policy.Policy for its rules): who is asked, and the
    TOTP settings of new enrolments (``issuer`` "" = the relying party's name) with the accepted window."""

    mode: str
    groups: list[str]
    ip_allowlist: list[str]
    remember_days: int
    totp_digits: int
    totp_period: int
    totp_algorithm: str
    totp_window: int
    issuer: str
    enrol_deadline: float | None = None  # unix time by which the users asked must have a second factor


@dataclass(frozen=True)
class MailPrefs(Record):
    """A user's mail: where it goes, in which language (None: the deployment's), the informational notices they
    switched off, and which notices they may switch off and which always go."""

    email: str | None
    language: str | None
    off: list[str]
    may_switch_off: list[str]
    always_sent: list[str]


@dataclass(frozen=True)
class OutboxMail(Record):
    """One mail in the outbox as the admin sees it: what it tells (``params``: time, address, browser, a key's
    name, a count; never a secret), its state and, once sent, where it went."""

    id: int
    created: float
    kind: str
    username: str
    params: dict[str, Any]
    status: str  # pending | sent | failed | dropped
    attempts: int
    next_attempt: float
    sent: float | None
    recipient: str | None
    last_error: str | None


@dataclass(frozen=True)
class SessionInfo(Record):
    """One login session of the forward-auth gate as an admin sees it (its public id, never its token)."""

    sid: str
    username: str
    domain: str
    level: int  # 1: first factor only; 2: both factors
    method: str  # how its last factor was met: password, ldap, totp, backup_code, webauthn, device, policy
    ip: str | None
    user_agent: str | None
    created: float
    last_seen: float
    expires: float  # the sooner of its absolute and idle ends, as of its last recorded activity


class CeremonyStart(NamedTuple):
    """WebAuthn options (the standard JSON form, for the browser) and the id of their single-use state."""

    options: dict[str, Any]
    state_id: str
