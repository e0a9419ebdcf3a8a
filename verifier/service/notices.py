"""Mail to users as the admin and the users set it up: the admin's settings, users' addresses and choices, the
enrolment reminders, and the outbox as the admin sees it.

The mails themselves are written by each event's own transaction (the services build them through the gate);
the sender (verifier/mail/sender.py) delivers them. See docs/verifier.md, "Mail to users".
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..core import notices
from ..core.policy import Policy
from ..errors import BadRequest, PolicyConflict
from ..settings import VerifierSettings
from ..store import Store
from ..store.base import NOTICES_SETTING, OUTBOX_STATUSES, POLICY_SETTING
from .gate import Gate
from .results import MailPrefs, OutboxMail
from .users import initial_policy, mail_address, policy_of, require_user

REMINDER_SETTING = "enrol_reminder"  # the deadline whose reminders were written (JSON), so each goes once
CHANGE_ATTEMPTS = 5
MAX_OUTBOX_PAGE = 1000


class Notices:
    """The admin's mail settings, users' addresses and choices, reminders, and the outbox view."""

    def __init__(self, store: Store, clock: Callable[[], float], gate: Gate, policy_defaults: Policy) -> None:
        self.store = store
        self.clock = clock
        self.gate = gate
        self._policy_defaults = policy_defaults

    # ---- the admin's settings -------------------------------------------------------------------------
    def settings(self) -> notices.NoticeSettings:
        """The settings in force (mail off until an admin turns it on)."""
        return self.gate.notice_settings()

    def update(self, changes: dict[str, Any], actor: str | None = None) -> notices.NoticeSettings:
        """Change the named settings (``enabled``, ``off``, ``language``, ``timezone``, ``reminder_days``,
        ``account_url``, ``contact``; None keeps one); raises BadRequest naming a bad one and changes nothing
        then. A compare-and-set with its audit row, as policy changes are."""
        changes = {name: value for name, value in changes.items() if value is not None}
        unknown = sorted(set(changes) - set(notices.NoticeSettings().to_dict()))
        if unknown:
            raise BadRequest(f"unknown mail setting(s): {', '.join(unknown)}")
        for _ in range(CHANGE_ATTEMPTS):
            raw = self.store.get_setting(NOTICES_SETTING)
            old = notices.notice_settings_of(raw)
            try:
                new = notices.NoticeSettings.validated(**{**old.to_dict(), **changes})
            except (ValueError, TypeError) as exc:
                raise BadRequest(str(exc)) from None
            before, after = old.to_dict(), new.to_dict()
            detail = "; ".join(f"{name}: {before[name]!r} → {after[name]!r}" for name in after
                               if before[name] != after[name]) or "no change"
            record = self.gate.record("notices_changed", method="admin", actor=actor, result="ok", detail=detail)
            audit_id = self.store.replace_setting(NOTICES_SETTING, raw, json.dumps(after), record)
            if audit_id is not None:
                self.gate.accepted(record, audit_id)
                return new
        raise PolicyConflict("the mail settings kept changing while this change was made: try again")

    # ---- a user's address and choices ------------------------------------------------------------------
    def set_email(self, username: str, email: str | None, actor: str | None = None) -> MailPrefs:
        """Set (None: forget) the user's mail address; raises BadRequest for one that is not a plain address."""
        user = require_user(self.store, username)
        address = mail_address(email) if email is not None else None
        self.store.set_email(username, address)
        self.gate.audit("email_changed", username=username, method="admin", actor=actor, result="ok",
                        detail=f"{user['email'] or '-'} → {address or '-'}")
        return self.prefs(username)

    def prefs(self, username: str) -> MailPrefs:
        """The user's address, language and switched-off notices, and which notices they may switch off."""
        user = require_user(self.store, username)
        chosen = notices.UserPrefs.of_row(user["mail_language"], user["mail_off"])
        return MailPrefs(email=user["email"], language=chosen.language, off=sorted(chosen.off),
                         may_switch_off=list(notices.INFORMATIONAL), always_sent=list(notices.SECURITY))

    def set_prefs(self, username: str, language: str | None = None, off: Iterable[str] | None = None,
                  actor: str | None = None) -> MailPrefs:
        """Change the user's mail language (``""``: the deployment's) and the informational notices they switched
        off (security notices cannot be: BadRequest); None keeps a field."""
        user = require_user(self.store, username)
        chosen = notices.UserPrefs.of_row(user["mail_language"], user["mail_off"])
        try:
            new_language = chosen.language if language is None else \
                (notices.check_language(language) if language else None)
            new_off = chosen.off if off is None else notices.check_kinds(off, informational_only=True)
        except (ValueError, TypeError) as exc:
            raise BadRequest(str(exc)) from None
        self.store.set_mail_prefs(username, new_language, sorted(new_off))
        self.gate.audit("mail_prefs_changed", username=username, method="user", actor=actor, result="ok",
                        detail=f"language {new_language or 'default'}; off: {', '.join(sorted(new_off)) or '-'}")
        return self.prefs(username)

    # ---- the enrolment reminder ------------------------------------------------------------------------
    def queue_due_reminders(self, now: float | None = None) -> int:
        """Write the enrolment reminders when they are due (``reminder_days`` before the policy's deadline), to
        every user the policy asks who has no factor yet: once per deadline, whichever sender or process asks
        first (a compare-and-set on the deadline they were written for, in the same transaction as the mails).
        Returns how many were written (0 when none are due or they were written before)."""
        now = self.clock() if now is None else now
        settings = self.settings()
        policy = policy_of(self.store.get_setting(POLICY_SETTING), self._policy_defaults)
        deadline = policy.enrol_deadline
        if not settings.sends("enrol_reminder") or not notices.reminder_due(deadline, settings.reminder_days, now):
            return 0
        raw = self.store.get_setting(REMINDER_SETTING)
        if raw is not None and json.loads(raw).get("deadline") == deadline:
            return 0
        mails = [notices.outbox_row("enrol_reminder", user["username"], now, deadline=deadline)
                 for user in notices.required_without_factor(policy, self.store.users_for_notices(), now)]
        record = self.gate.record("enrol_reminders", now, method="system", result="ok",
                                  detail=f"to {len(mails)} user(s) without a factor, deadline {deadline}")
        audit_id = self.store.replace_setting(REMINDER_SETTING, raw, json.dumps({"deadline": deadline}), record,
                                              mails)
        if audit_id is None:
            return 0  # another sender wrote them first
        self.gate.accepted(record, audit_id)
        return len(mails)

    # ---- the outbox --------------------------------------------------------------------------------------
    def outbox(self, status: str | None = None, username: str | None = None, limit: int = 100) -> list[OutboxMail]:
        """Mails in the outbox, newest first."""
        if status is not None and status not in OUTBOX_STATUSES:
            raise BadRequest(f"status must be one of {', '.join(OUTBOX_STATUSES)}")
        if not 1 <= int(limit) <= MAX_OUTBOX_PAGE:
            raise BadRequest(f"limit must be between 1 and {MAX_OUTBOX_PAGE}")
        if isinstance(username, str) and "\x00" in username:  # PostgreSQL text cannot hold NUL (its driver fails)
            raise BadRequest("a user name cannot contain a NUL character")
        return [outbox_mail(row) for row in self.store.list_outbox(status=status, username=username,
                                                                   limit=int(limit))]

    def outbox_counts(self) -> dict[str, int]:
        """How many mails are pending, sent, failed and dropped."""
        return self.store.outbox_counts()


def outbox_mail(row: dict[str, Any]) -> OutboxMail:
    """An outbox row as the admin sees it (``params``: what the mail tells, never a secret)."""
    return OutboxMail(id=row["id"], created=row["created"], kind=row["kind"], username=row["username"],
                      params=json.loads(row["params"]), status=row["status"], attempts=row["attempts"],
                      next_attempt=row["next_attempt"], sent=row["sent"], recipient=row["recipient"],
                      last_error=row["last_error"])


def reminder_writer(store: Store, clock: Callable[[], float] = time.time) -> Callable[[float], int]:
    """What a mail sender runs between passes (``Sender.after_pass``): the enrolment reminders, without a whole
    Verifier (a sender needs no server key)."""
    settings = VerifierSettings()
    return Notices(store, clock, Gate(store, settings, clock), initial_policy(settings)).queue_due_reminders
