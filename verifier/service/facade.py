"""The verifier facade: the one object the HTTP API, the CLI and the mock tracker hold.

It builds one :class:`~verifier.service.gate.Gate` (rate limits and audit) and one service per factor or
concern around it, and forwards each public method to exactly one of them: a request goes facade →
factor service → store, never back through here. Every method is safe to call from many threads and
from several processes sharing one database: whatever must happen once (a TOTP step, a backup code, a
challenge, a sign counter) is decided by an atomic compare-and-set in the store.

Public methods, by concern (results are the frozen dataclasses of :mod:`verifier.service.results`):

- users: ``create_user``, ``list_users``, ``user_status``, ``set_groups``, ``add_to_group``,
  ``exclude_user``, ``check_password``, ``verify_password``
- TOTP: ``totp_enroll_begin``, ``totp_enroll_confirm``, ``verify_totp``, ``totp_remove``
- backup codes: ``generate_backup_codes``, ``verify_backup_code``
- security keys: ``webauthn_register_begin``, ``webauthn_register_complete``, ``import_u2f_credential``,
  ``webauthn_authenticate_begin``, ``webauthn_authenticate_complete``, ``list_credentials``,
  ``rename_credential``, ``remove_credential``
- devices: ``remember_device``, ``check_device``, ``revoke_devices``
- policy and admin: ``get_policy``, ``set_policy``, ``update_policy``, ``second_factor_required``, ``reset_user``,
  ``reset_group``, ``unlock``
- gate sessions: ``list_sessions``, ``revoke_sessions`` (the forward-auth gate's logins; ``sessions`` is
  the service the gate itself drives)
- mail to users: ``set_email``, ``mail_prefs``, ``set_mail_prefs``, ``notice_settings``, ``update_notice_settings``,
  ``outbox``, ``outbox_counts``, ``queue_due_reminders`` (the sender in verifier/mail/ delivers the outbox)
- audit: ``audit`` (query), ``subscribe_audit`` (live feed of JSON-ready dicts)

Code that needs only part of this can type against :class:`Verifier` itself: its signatures are the
contract, and these names are kept stable.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..core.audit import AuditEvent
from ..core.notices import NoticeSettings
from ..errors import BadRequest
from ..settings import VerifierSettings, resolve_server_key
from ..store import Store
from .backup_codes import BackupCodes
from .devices import Devices
from .gate import AuditListener, Gate
from .notices import Notices
from .policy import Policies
from .results import (
    CeremonyStart,
    CredentialInfo,
    MailPrefs,
    OutboxMail,
    PolicySettings,
    SessionInfo,
    TotpEnrolment,
    UserStatus,
    VerifyResult,
)
from .sessions import Sessions
from .totp import Totp
from .users import Users, initial_policy
from .webauthn import DEFAULT_CREDENTIAL_NAME, WebAuthn

MAX_AUDIT_PAGE = 10_000


class Verifier:
    """TOTP, backup codes, WebAuthn, rate limiting, policy, remember-device and audit."""

    def __init__(self, store: Store, settings: VerifierSettings | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings or VerifierSettings()
        self.clock = clock
        server_key = resolve_server_key(self.settings.server_key, store.url)
        self.gate = Gate(store, self.settings, clock)
        self.users = Users(store, self.settings, clock, self.gate)
        self.totp = Totp(store, self.settings, clock, self.gate, AESGCM(server_key))
        self.backup_codes = BackupCodes(store, self.settings, self.gate, server_key)
        self.webauthn = WebAuthn(store, self.settings, clock, self.gate)
        self.devices = Devices(store, clock, self.gate)
        self.policy = Policies(store, self.settings, clock, self.gate)
        self.sessions = Sessions(store, clock, self.gate)
        self.notices = Notices(store, clock, self.gate, initial_policy(self.settings))

    # ---- users ----------------------------------------------------------------------------------------
    def create_user(self, username: str, password: str | None = None, groups: Iterable[str] = (),
                    actor: str | None = None, email: str | None = None) -> UserStatus:
        """Create a user (password optional: a tracker may keep passwords itself; ``email``, where their notices
        go, optional); raises UserExists, or BadRequest for a bad name, group, password or address."""
        return self.users.create(username, password, groups, actor, email)

    def list_users(self) -> list[str]:
        """All usernames, sorted."""
        return self.users.names()

    def user_status(self, username: str) -> UserStatus:
        """What the tracker needs to decide the next login step for ``username``; raises UserNotFound."""
        return self.users.status(username)

    def set_groups(self, username: str, groups: Iterable[str], actor: str | None = None) -> UserStatus:
        """Replace a user's groups."""
        return self.users.set_groups(username, groups, actor)

    def add_to_group(self, username: str, group: str, actor: str | None = None) -> UserStatus:
        """Add one group to a user's groups."""
        return self.users.add_to_group(username, group, actor)

    def exclude_user(self, username: str, until: float | dt.datetime | dt.date | None,
                     actor: str | None = None) -> UserStatus:
        """Skip the second factor for ``username`` until ``until`` (None ends the exclusion)."""
        return self.users.exclude(username, until, actor)

    def check_password(self, username: str, password: str) -> bool:
        """True when the password matches (unknown users cost the same time and return False)."""
        return self.users.check_password(username, password)

    def verify_password(self, username: str, password: str, ip: str, user_agent: str) -> VerifyResult:
        """The login password under the second factor's per-user and per-IP back-off."""
        return self.users.verify_password(username, password, ip, user_agent)

    # ---- TOTP -----------------------------------------------------------------------------------------
    def totp_enroll_begin(self, username: str) -> TotpEnrolment:
        """A pending TOTP secret (reused while unconfirmed and fresh) with its URI and QR code."""
        return self.totp.enrol_begin(username)

    def totp_enroll_confirm(self, username: str, code: str, ip: str, user_agent: str) -> VerifyResult:
        """Confirm the pending secret with a first valid code; it then replaces any older TOTP factor."""
        return self.totp.enrol_confirm(username, code, ip, user_agent)

    def verify_totp(self, username: str, code: str, ip: str, user_agent: str) -> VerifyResult:
        """Check a TOTP code: window ±N steps, each step accepted once (atomic ledger), rate-limited."""
        return self.totp.verify(username, code, ip, user_agent)

    def totp_remove(self, username: str, actor: str | None = None, ip: str | None = None,
                    user_agent: str | None = None) -> bool:
        """Remove the user's TOTP factor (and any pending enrolment); ``ip`` and ``user_agent`` of whoever did it
        go into the user's notice."""
        return self.totp.remove(username, actor, ip, user_agent)

    # ---- backup codes ---------------------------------------------------------------------------------
    def generate_backup_codes(self, username: str, actor: str | None = None, ip: str | None = None,
                              user_agent: str | None = None) -> list[str]:
        """Ten fresh codes, shown once; the old set stops working (the user is told, never the codes)."""
        return self.backup_codes.generate(username, actor, ip, user_agent)

    def verify_backup_code(self, username: str, code: str, ip: str, user_agent: str) -> VerifyResult:
        """Check a backup code; each one works once."""
        return self.backup_codes.verify(username, code, ip, user_agent)

    # ---- security keys --------------------------------------------------------------------------------
    def webauthn_register_begin(self, username: str, origin: str) -> CeremonyStart:
        """Creation options (WebAuthn JSON) and the id of the single-use, expiring state."""
        return self.webauthn.register_begin(username, origin)

    def webauthn_register_complete(self, username: str, state_id: str, response: dict[str, Any],
                                   name: str = DEFAULT_CREDENTIAL_NAME, ip: str | None = None,
                                   user_agent: str | None = None) -> CredentialInfo:
        """Verify a registration and store the credential; raises WebAuthnRejected."""
        return self.webauthn.register_complete(username, state_id, response, name, ip, user_agent)

    def import_u2f_credential(self, username: str, key_handle: bytes, public_key: bytes,
                              name: str = DEFAULT_CREDENTIAL_NAME, sign_count: int = 0,
                              actor: str | None = None) -> CredentialInfo:
        """Store a key registered with the legacy U2F API (key handle + 65-byte public key) under the appid."""
        return self.webauthn.import_u2f(username, key_handle, public_key, name, sign_count, actor)

    def webauthn_authenticate_begin(self, username: str, origin: str) -> CeremonyStart:
        """Request options for the user's keys (with the appid extension when a legacy key exists)."""
        return self.webauthn.authenticate_begin(username, origin)

    def webauthn_authenticate_complete(self, username: str, state_id: str, response: dict[str, Any], ip: str,
                                       user_agent: str) -> VerifyResult:
        """Verify an assertion: challenge once, signature, then the sign counter (a regression is refused)."""
        return self.webauthn.authenticate_complete(username, state_id, response, ip, user_agent)

    def list_credentials(self, username: str) -> list[CredentialInfo]:
        """The user's security keys."""
        return self.webauthn.list_keys(username)

    def rename_credential(self, username: str, cred_id: str, name: str) -> CredentialInfo:
        """Rename one of the user's keys; raises CredentialNotFound."""
        return self.webauthn.rename(username, cred_id, name)

    def remove_credential(self, username: str, cred_id: str, actor: str | None = None, ip: str | None = None,
                          user_agent: str | None = None) -> None:
        """Remove one of the user's keys; raises CredentialNotFound."""
        self.webauthn.remove(username, cred_id, actor, ip, user_agent)

    # ---- remember this device -------------------------------------------------------------------------
    def remember_device(self, username: str, ip: str, user_agent: str) -> str:
        """A device token valid for the policy's ``remember_days``; only its hash is stored."""
        return self.devices.remember(username, ip, user_agent)

    def check_device(self, username: str, token: str) -> str | None:
        """A rotated token when ``token`` is a live device token of ``username``; else None (old one dies)."""
        return self.devices.check(username, token)

    def revoke_devices(self, username: str, actor: str | None = None, ip: str | None = None,
                       user_agent: str | None = None) -> int:
        """Forget every remembered device of the user; returns how many."""
        return self.devices.revoke_all(username, actor, ip, user_agent)

    # ---- policy and admin -----------------------------------------------------------------------------
    def get_policy(self) -> PolicySettings:
        """The policy in force."""
        return self.policy.get()

    def set_policy(self, mode: str, groups: Iterable[str] = (), ip_allowlist: Iterable[str] = (),
                   remember_days: int = 0, actor: str | None = None, *, totp_digits: int | None = None,
                   totp_period: int | None = None, totp_algorithm: str | None = None,
                   totp_window: int | None = None, issuer: str | None = None,
                   enrol_deadline: float | None = None) -> PolicySettings:
        """Replace who is asked (mode, groups, allowlist, remember days) and change the TOTP settings and the
        enrolment deadline given (None keeps one; a deadline of 0 removes it); raises InvalidPolicy (naming the
        field and its range) and changes nothing on bad input. Users it newly asks are mailed."""
        return self.policy.set(mode, groups, ip_allowlist, remember_days, actor, totp_digits=totp_digits,
                               totp_period=totp_period, totp_algorithm=totp_algorithm, totp_window=totp_window,
                               issuer=issuer, enrol_deadline=enrol_deadline)

    def update_policy(self, actor: str | None = None, **changes: Any) -> PolicySettings:
        """Change only the named policy fields (``mode``, ``groups``, ``ip_allowlist``, ``remember_days``,
        ``totp_digits``, ``totp_period``, ``totp_algorithm``, ``totp_window``, ``issuer``, ``enrol_deadline``),
        keeping the others; raises InvalidPolicy and changes nothing on bad input. Audited with the old and new
        values; users the change newly asks are mailed."""
        return self.policy.update(changes, actor)

    def second_factor_required(self, username: str, ip: str) -> bool:
        """Policy, exclusion and IP allowlist together; unknown users are always asked."""
        return self.policy.second_factor_required(username, ip)

    def reset_user(self, username: str, actor: str | None = None) -> None:
        """Remove every factor, backup code and remembered device of the user, and lift its lock."""
        self.policy.reset_user(username, actor)

    def reset_group(self, group: str, actor: str | None = None) -> list[str]:
        """:meth:`reset_user` for every member of ``group``; returns the usernames."""
        return self.policy.reset_group(group, actor)

    def unlock(self, username: str, ip: str | None = None, actor: str | None = None) -> None:
        """Lift a lockout of the user (and of an IP)."""
        self.policy.unlock(username, ip, actor)

    # ---- gate sessions ---------------------------------------------------------------------------------
    def list_sessions(self, username: str) -> list[SessionInfo]:
        """The user's forward-auth gate sessions, oldest first (public ids, never tokens)."""
        return self.sessions.list(username)

    def revoke_sessions(self, username: str, sid: str | None = None, actor: str | None = None) -> int:
        """End the user's gate sessions (or the one with public id ``sid``): refused at their next request."""
        return self.sessions.revoke(username, sid, actor)

    # ---- mail to users --------------------------------------------------------------------------------
    def set_email(self, username: str, email: str | None, actor: str | None = None) -> MailPrefs:
        """Set (None: forget) where the user's notices go; raises BadRequest for anything but a plain address."""
        return self.notices.set_email(username, email, actor)

    def mail_prefs(self, username: str) -> MailPrefs:
        """The user's address, mail language and switched-off notices."""
        return self.notices.prefs(username)

    def set_mail_prefs(self, username: str, language: str | None = None, off: Iterable[str] | None = None,
                       actor: str | None = None) -> MailPrefs:
        """The user's mail language (``""``: the deployment's) and the informational notices they switch off;
        raises BadRequest for a security notice (only the admin may switch those off)."""
        return self.notices.set_prefs(username, language, off, actor)

    def notice_settings(self) -> NoticeSettings:
        """The admin's mail settings (mail off until an admin turns it on)."""
        return self.notices.settings()

    def update_notice_settings(self, actor: str | None = None, **changes: Any) -> NoticeSettings:
        """Change the named mail settings (``enabled``, ``off``, ``language``, ``timezone``, ``reminder_days``,
        ``account_url``, ``contact``), keeping the others; raises BadRequest and changes nothing on bad input."""
        return self.notices.update(changes, actor)

    def outbox(self, status: str | None = None, username: str | None = None, limit: int = 100) -> list[OutboxMail]:
        """Mails in the outbox, newest first."""
        return self.notices.outbox(status, username, limit)

    def outbox_counts(self) -> dict[str, int]:
        """How many mails are pending, sent, failed and dropped."""
        return self.notices.outbox_counts()

    def queue_due_reminders(self, now: float | None = None) -> int:
        """Write the enrolment reminders if they are due and were not written yet (the sender calls this)."""
        return self.notices.queue_due_reminders(now)

    # ---- audit ----------------------------------------------------------------------------------------
    def audit(self, username: str | None = None, event: str | None = None, since: float | None = None,
              until: float | None = None, after_id: int | None = None, limit: int = 100) -> list[AuditEvent]:
        """Audit events matching every given filter, oldest first (at most ``limit``, the newest ones)."""
        if not 1 <= int(limit) <= MAX_AUDIT_PAGE:
            raise BadRequest(f"limit must be between 1 and {MAX_AUDIT_PAGE}")
        if any("\x00" in text for text in (username, event) if isinstance(text, str)):
            # PostgreSQL text cannot hold NUL (its driver fails), and no name the verifier accepts has one
            raise BadRequest("an audit filter cannot contain a NUL character")
        rows = self.store.query_audit(username=username, event=event, since=since, until=until,
                                      after_id=after_id, limit=int(limit))
        return [AuditEvent(**row) for row in rows]

    def subscribe_audit(self, callback: AuditListener) -> Callable[[], None]:
        """Call ``callback(event_dict)`` for every new audit event; returns an unsubscribe function."""
        return self.gate.subscribe(callback)
