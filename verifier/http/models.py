"""Pydantic models for every request and reply of the verifier API."""

from __future__ import annotations

import functools
import ipaddress
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _check_ip(value: str) -> str:
    if not _is_ip(value):
        raise ValueError(f"{value!r} does not appear to be an IPv4 or IPv6 address")
    return value


@functools.lru_cache(maxsize=8192)  # every verification names an address; they repeat (NAT, retries)
def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _check_name(value: str) -> str:
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("must be printable characters without spaces")
    return value


Username = Annotated[str, Field(min_length=1, max_length=150), AfterValidator(_check_name)]
GroupName = Annotated[str, Field(min_length=1, max_length=150), AfterValidator(_check_name)]
ClientIp = Annotated[str, Field(min_length=2, max_length=45, description="the end user's IP address"),
                     AfterValidator(_check_ip)]
UserAgent = Annotated[str, Field(max_length=1000, description="the end user's browser user agent")]
Origin = Annotated[str, Field(min_length=1, max_length=300, description="the origin of the login page")]
StateId = Annotated[str, Field(min_length=1, max_length=128)]
CredentialName = Annotated[str, Field(min_length=1, max_length=64)]
MailAddress = Annotated[str, Field(min_length=3, max_length=254, description="a plain mail address, a@example.com "
                                   "(checked by the verifier: 400 bad_request naming what is wrong)")]
NoticeKind = Literal["key_added", "key_removed", "backup_codes_regenerated", "account_locked", "devices_revoked",
                     "user_reset", "new_device", "new_network", "policy_enforced", "enrol_reminder",
                     "backup_codes_low"]


class Strict(BaseModel):
    """Unknown fields are refused, so a typo is a 422 instead of silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """``{"error": {"code", "message"}}``."""

    code: str
    message: str


class ErrorReply(BaseModel):
    """Every 4xx reply that is not a 422 validation error."""

    error: ErrorBody


class VerifyReply(BaseModel):
    """The outcome of a verification."""

    ok: bool
    reason: Literal["ok", "invalid", "replay", "locked", "not_enrolled", "expired", "counter_regression"]
    retry_after: float | None = None


class UserRef(Strict):
    username: Username


class BackupGenerate(Strict):
    username: Username
    ip: ClientIp | None = Field(None, description="the user's address, for the notice they get")
    user_agent: UserAgent = ""


class CodeRequest(Strict):
    username: Username
    code: Annotated[str, Field(min_length=1, max_length=64)]
    ip: ClientIp
    user_agent: UserAgent = ""


class TotpEnrolment(BaseModel):
    secret: str
    uri: str
    qr_svg: str
    digits: int
    period: int
    algorithm: str
    issuer: str


class BackupCodes(BaseModel):
    codes: list[str]


class UserStatus(BaseModel):
    username: str
    groups: list[str]
    totp: bool
    webauthn: int
    backup_codes_left: int
    required: bool
    locked_until: float | None
    excluded_until: float | None
    remembered_devices: int
    email: str | None = None


class RequiredRequest(Strict):
    ip: ClientIp


class RequiredReply(BaseModel):
    required: bool


class WebAuthnBegin(Strict):
    username: Username
    origin: Origin


class WebAuthnOptions(BaseModel):
    options: dict[str, Any] = Field(description="PublicKeyCredential{Creation,Request}Options, WebAuthn JSON")
    state_id: str


class WebAuthnRegisterComplete(Strict):
    username: Username
    state_id: StateId
    credential: dict[str, Any] = Field(description="the PublicKeyCredential, WebAuthn JSON (toJSON())")
    name: CredentialName = "Security key"
    ip: ClientIp | None = Field(None, description="the user's address, for the notice they get")
    user_agent: UserAgent = ""


class WebAuthnAuthenticateComplete(Strict):
    username: Username
    state_id: StateId
    credential: dict[str, Any]
    ip: ClientIp
    user_agent: UserAgent = ""


class Credential(BaseModel):
    id: str
    name: str
    created: float
    last_used: float | None
    sign_count: int
    legacy_u2f: bool


class CredentialRename(Strict):
    name: CredentialName


class DeviceRemember(Strict):
    username: Username
    ip: ClientIp
    user_agent: UserAgent = ""


class DeviceToken(BaseModel):
    token: str | None


class DeviceCheck(Strict):
    username: Username
    token: Annotated[str, Field(min_length=1, max_length=200)]


class Count(BaseModel):
    count: int


class CreateUser(Strict):
    username: Username
    password: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    groups: Annotated[list[GroupName], Field(max_length=100)] = []
    email: MailAddress | None = None


class SetEmail(Strict):
    email: MailAddress | None = Field(description="where the user's notices go; null removes the address")


class MailPrefsChange(Strict):
    """A user's own mail choices; a field left out (or null) is kept."""

    language: Literal["en", "de", ""] | None = Field(None, description="\"\": the deployment's language")
    off: Annotated[list[NoticeKind], Field(max_length=20)] | None = Field(
        None, description="the informational notices the user does not want (security notices: 400)")


class MailPrefsReply(BaseModel):
    email: str | None
    language: str | None
    off: list[str]
    may_switch_off: list[str]
    always_sent: list[str]


class NoticeSettingsModel(Strict):
    """PUT body of the mail settings; a field left out (or null) is kept."""

    enabled: bool | None = None
    off: Annotated[list[NoticeKind], Field(max_length=20)] | None = None
    language: Literal["en", "de"] | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    reminder_days: Annotated[int, Field(ge=0, le=90)] | None = None
    account_url: Annotated[str, Field(max_length=300)] | None = None
    contact: Annotated[str, Field(max_length=200)] | None = None


class NoticeSettingsReply(BaseModel):
    enabled: bool
    off: list[str]
    language: str
    timezone: str
    reminder_days: int
    account_url: str
    contact: str


class OutboxMailModel(BaseModel):
    id: int
    created: float
    kind: str
    username: str
    params: dict[str, Any]
    status: str
    attempts: int
    next_attempt: float
    sent: float | None
    recipient: str | None
    last_error: str | None


class OutboxReply(BaseModel):
    mails: list[OutboxMailModel]
    counts: dict[str, int]


class Groups(Strict):
    groups: Annotated[list[GroupName], Field(max_length=100)]


class PolicyModel(Strict):
    """PUT body: who is asked replaces the stored one; a TOTP setting left out (or null) is kept. The TOTP
    settings are range-checked by the verifier (400 ``invalid_policy`` naming the range), not here."""

    mode: Literal["none", "all", "groups", "all_except_groups"]
    groups: Annotated[list[GroupName], Field(max_length=100)] = []
    ip_allowlist: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=1000)] = []
    remember_days: Annotated[int, Field(ge=0, le=365)] = 0
    totp_digits: int | None = Field(None, description="digits of new enrolments' codes, 6-8")
    totp_period: int | None = Field(None, description="seconds per code of new enrolments, 15-300")
    totp_algorithm: Annotated[str, Field(max_length=16)] | None = Field(
        None, description="HMAC of new enrolments: SHA1, SHA256 or SHA512")
    totp_window: int | None = Field(None, description="steps accepted either side of now, every verification, 0-10")
    issuer: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="the issuer label of new enrolments (\"\": the relying party's name)")
    enrol_deadline: Annotated[float, Field(ge=0, le=253402300799)] | None = Field(
        None, description="unix time by which the users asked must have a second factor (told in mails; 0 removes it)")


class PolicyReply(BaseModel):
    """The policy in force."""

    mode: str
    groups: list[str]
    ip_allowlist: list[str]
    remember_days: int
    totp_digits: int
    totp_period: int
    totp_algorithm: str
    totp_window: int
    issuer: str
    enrol_deadline: float | None = None


class Exclude(Strict):
    until: Annotated[float, Field(ge=0, le=253402300799)] | None = Field(
        description="unix time until which the user skips the second factor; null ends the exclusion")


class Unlock(Strict):
    ip: ClientIp | None = None


class UserList(BaseModel):
    users: list[str]


class GroupReset(BaseModel):
    users: list[str]


class GateSession(BaseModel):
    """One login session of the forward-auth gate (its public id; the token is never shown)."""

    sid: str
    username: str
    domain: str
    level: int
    method: str
    ip: str | None
    user_agent: str | None
    created: float
    last_seen: float
    expires: float


class GateSessions(BaseModel):
    sessions: list[GateSession]


class AuditEventModel(BaseModel):
    id: int
    ts: float
    event: str
    username: str | None
    method: str | None
    credential: str | None
    ip: str | None
    user_agent: str | None
    result: str | None
    actor: str | None
    detail: str | None


class AuditReply(BaseModel):
    events: list[AuditEventModel]


class Health(BaseModel):
    status: Literal["ok"]
    schema_version: int
