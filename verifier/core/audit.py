"""Audit events: what happened, to whom, with which factor, from where, and the result."""

from __future__ import annotations

from dataclasses import dataclass, fields

from .record import Record

EVENTS = (
    "user_created", "totp_enrol_begin", "totp_enrolled", "totp_removed", "backup_codes_generated",
    "webauthn_registered", "webauthn_renamed", "webauthn_removed", "verify", "lockout", "throttled",
    "device_remembered", "devices_revoked", "policy_changed", "user_excluded", "user_reset", "group_reset",
    "groups_changed", "email_changed", "mail_prefs_changed", "notices_changed",
    "enrol_reminders",
    # the forward-auth gate's sessions (verifier/gate/)
    "session_started", "session_upgraded", "session_ended", "sessions_revoked",
)
MAX_USER_AGENT = 300


@dataclass(frozen=True)
class AuditEvent(Record):
    """One audit record. Never contains a code, secret or password."""

    ts: float
    event: str
    username: str | None = None
    method: str | None = None  # totp | backup | webauthn | device | admin
    credential: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    result: str | None = None  # ok | invalid | replay | locked | ...
    actor: str | None = None
    detail: str | None = None
    id: int | None = None

    def to_dict(self) -> dict:
        """Plain dict (JSON-ready); built from FIELDS, the cheapest form for the hot path's audit row."""
        return {f: getattr(self, f) for f in FIELDS}


FIELDS = tuple(f.name for f in fields(AuditEvent))


def make_event(ts: float, event: str, **fields: object) -> AuditEvent:
    """Build an event, trimming the free-text user agent (the one field callers pass through unchecked).

    A NUL in it becomes U+FFFD: PostgreSQL text cannot hold NUL, and the row must still be written.
    """
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    ua = fields.get("user_agent")
    if isinstance(ua, str):
        fields["user_agent"] = ua[:MAX_USER_AGENT].replace("\x00", "\ufffd")
    return AuditEvent(ts=ts, event=event, **fields)  # type: ignore[arg-type]
