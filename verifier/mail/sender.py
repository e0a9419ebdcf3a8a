"""The mail sender: delivers the outbox to the relay, one sender per deployment, safe with several.

Where it runs: a thread of ``verifier serve`` (in its manager process, when a relay is configured with
``--smtp-host``), a ``verifier mailer`` process of its own, or the mock tracker. Every process that can send
tries the deployment's sender lock (``Store.try_mailer_lock``: ``flock`` on SQLite, a session advisory lock on
PostgreSQL); the one that holds it sends, the others wait as standbys and take over within ``poll_seconds`` of
its death (the kernel or PostgreSQL frees the lock with the process or its connection).

Even two senders never send one mail twice: a sender *claims* due mails with a lease (PostgreSQL: ``SELECT …
FOR UPDATE SKIP LOCKED``; SQLite: under the writer lock), which no other sender claims until it ends, starts no
send in the second half of its lease (a send takes at most four SMTP timeouts, a tenth of the lease each, so it
ends inside the lease), and records each acceptance before the next send. A sender that dies leaves its
claimed mails to be claimed again when the lease ends. The one duplicate left: a crash (or a lost database)
between the relay's "250 accepted" and the record of it sends that one mail again. It then carries the same
Message-ID, which lets mail clients and archives show it once.

One pass (:meth:`Sender.deliver_due`): claim up to ``batch`` due mails, then for each: resolve the recipient
(:mod:`verifier.mail.recipients`), check it is still wanted (the admin's and the user's choices at delivery),
render it (:mod:`verifier.mail.templates`), send it over one SMTP connection, record the outcome. A relay that
is down puts the rest back with a back-off that doubles per try (``retry_base`` … ``retry_max``); a mail older
than ``give_up_after`` is marked failed.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from ..core import notices
from ..core.addresses import smtp_address
from ..settings import MailSettings
from ..store import Store
from ..store.base import NOTICES_SETTING
from .recipients import Recipients, default_recipients
from .relay import Refused, Relay, RelayDown
from .templates import message, render

log = logging.getLogger("tracker2fa.mail")
PRUNE_EVERY = 3600.0


@dataclass(frozen=True)
class Composed:
    """A mail ready to send: where to, and the message."""

    recipient: str
    message: EmailMessage


@dataclass(frozen=True)
class Withheld:
    """A mail not to send: ``dropped`` (switched off, no address) or ``failed`` (cannot be built)."""

    status: str
    reason: str
    recipient: str | None = None


def message_id(row: dict[str, Any], from_address: str) -> str:
    """The same Message-ID on every try of one mail, so that a resend after a crash shows as one mail."""
    domain = from_address.rpartition("@")[2] or "tracker2fa.invalid"
    return f"<outbox-{row['id']}.{int(row['created'])}@{domain}>"


def compose(row: dict[str, Any], user: dict[str, Any] | None, settings: notices.NoticeSettings, mail: MailSettings,
            recipients: Recipients) -> Composed | Withheld:
    """What to do with one outbox row at delivery: the mail to send, or why none goes."""
    prefs = notices.UserPrefs.of_row((user or {}).get("mail_language"), (user or {}).get("mail_off"))
    reason = notices.withheld(row["kind"], settings, prefs)
    if reason is not None:
        return Withheld("dropped", reason)
    address = recipients.address_of(row["username"], user)
    if address is None:
        return Withheld("dropped", "the user has no mail address")
    try:
        recipient = smtp_address(address)
    except ValueError as exc:
        return Withheld("dropped", f"the user's address is not usable: {exc}")
    language = notices.language_for(prefs, settings)
    try:
        rendered = render(row["kind"], json.loads(row["params"]), row["username"], language, settings, mail.from_name)
        built = message(rendered, sender=Address(display_name=mail.from_name, addr_spec=mail.from_address),
                        recipient=recipient, message_id=message_id(row, mail.from_address), language=language)
    except (KeyError, ValueError, TypeError) as exc:  # a kind or params this version cannot show
        return Withheld("failed", f"cannot build the mail: {type(exc).__name__}: {exc}", recipient)
    return Composed(recipient, built)


def sender_id() -> str:
    """Who holds a lease: this host and process, and a random part (a restarted process is someone else)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


class Sender:
    """Delivers the outbox of ``store`` to the relay of ``mail``."""

    def __init__(self, store: Store, mail: MailSettings, *, clock: Callable[[], float] = time.time,
                 recipients: Recipients | None = None, owner: str | None = None,
                 after_pass: Callable[[float], object] | None = None) -> None:
        self.store = store
        self.mail = mail.validated()
        self.clock = clock
        self.recipients = recipients or default_recipients()
        self.owner = owner or sender_id()
        self.after_pass = after_pass  # e.g. the enrolment reminders, run by the sender that holds the lock
        self._relay_failures = 0
        self._last_prune = float("-inf")

    # ---- one pass -----------------------------------------------------------------------------------
    def deliver_due(self) -> int:
        """Claim the due mails (up to ``batch``) and deliver each, recording every outcome before the next send.
        Returns how many mails were handled (sent, retried, dropped or failed)."""
        now = self.clock()
        if not self.store.mail_due(now):
            return 0
        claimed = self.store.claim_mail(self.owner, now, now + self.mail.lease_seconds, self.mail.batch)
        if not claimed:
            return 0
        settings = notices.notice_settings_of(self.store.get_setting(NOTICES_SETTING))
        users = self.store.mail_users(sorted({row["username"] for row in claimed}))
        send_until = now + self.mail.lease_seconds / 2
        relay = Relay(self.mail)
        handled, rest = 0, []
        try:
            for index, row in enumerate(claimed):
                if self.clock() >= send_until:  # too late in the lease to start a send: give the rest back
                    self.store.release_mail([r["id"] for r in claimed[index:]], self.owner)
                    break
                if not self._deliver(row, users.get(row["username"]), settings, relay):
                    rest = [r["id"] for r in claimed[index:]]
                    break
                handled += 1
        finally:
            relay.close()
        if rest:  # the relay is down: everything not sent waits, the sender backs off
            self._relay_failures += 1
            self.store.mail_retry(rest, self.owner, self.clock() + self.relay_backoff(), self._relay_error)
            handled += len(rest)
        return handled

    def _deliver(self, row: dict[str, Any], user: dict[str, Any] | None, settings: notices.NoticeSettings,
                 relay: Relay) -> bool:
        """Deliver one claimed mail and record the outcome; False when the relay is down (nothing recorded)."""
        now = self.clock()
        if now - row["created"] > self.mail.give_up_after:
            self.store.mail_closed(row["id"], self.owner, "failed",
                                   f"not delivered within {self.mail.give_up_after / 86400:g} days: given up")
            return True
        composed = compose(row, user, settings, self.mail, self.recipients)
        if isinstance(composed, Withheld):
            self.store.mail_closed(row["id"], self.owner, composed.status, composed.reason, composed.recipient)
            log.info("mail %s (%s) %s: %s", row["id"], row["kind"], composed.status, composed.reason)
            return True
        try:
            relay.send(composed.message, composed.recipient)
        except RelayDown as exc:
            self._relay_error = str(exc)
            log.warning("mail relay down (%s); mail waits", exc)
            return False
        except Refused as exc:
            if exc.permanent:
                self.store.mail_closed(row["id"], self.owner, "failed", str(exc), composed.recipient)
            else:
                delay = notices.retry_delay(row["attempts"] + 1, self.mail.retry_base, self.mail.retry_max)
                self.store.mail_retry([row["id"]], self.owner, self.clock() + delay, str(exc))
            log.warning("mail %s refused by the relay: %s", row["id"], exc)
            return True
        self._relay_failures = 0
        # Recorded before the next send: only a crash right here can make this mail go twice.
        if not self.store.mail_sent(row["id"], self.owner, self.clock(), composed.recipient):
            log.warning("mail %s was sent after its lease ended: another sender may send it again", row["id"])
        return True

    _relay_error = "the relay is down"

    def relay_backoff(self) -> float:
        """Seconds to wait after the relay failed this many passes in a row (doubling, capped)."""
        return notices.retry_delay(max(self._relay_failures, 1), self.mail.retry_base, self.mail.retry_max)

    def housekeeping(self) -> None:
        """Between passes: the caller's ``after_pass`` (enrolment reminders), and once an hour deleting mails that
        are done and older than ``keep_days``."""
        now = self.clock()
        if self.after_pass is not None:
            self.after_pass(now)
        if now - self._last_prune >= PRUNE_EVERY:
            self._last_prune = now
            self.store.prune_outbox(now - self.mail.keep_days * 86400)

    # ---- the loop -----------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Send while holding the deployment's sender lock, stand by while another process holds it, until
        ``stop`` is set. Never raises: a database or relay error is logged and tried again later."""
        while not stop.is_set():
            try:
                lock = self.store.try_mailer_lock()
            except Exception as exc:  # the database is unreachable: try again
                log.warning("mail sender cannot reach the database: %s: %s", type(exc).__name__, exc)
                stop.wait(self.mail.poll_seconds)
                continue
            if lock is None:
                stop.wait(self.mail.poll_seconds)  # a standby: another process sends
                continue
            log.info("mail sender %s is the deployment's sender", self.owner)
            try:
                self._send_while_held(lock, stop)
            finally:
                lock.release()

    def _send_while_held(self, lock: Any, stop: threading.Event) -> None:
        while not stop.is_set():
            if not lock.held():
                log.warning("mail sender %s lost its lock (database connection): standing by", self.owner)
                return
            try:
                self.housekeeping()
                handled = self.deliver_due()
            except Exception as exc:
                log.warning("mail sender pass failed: %s: %s", type(exc).__name__, exc)
                handled = 0
            if not handled:
                stop.wait(self.mail.poll_seconds)


def start_thread(sender: Sender, name: str = "tracker2fa-mail-sender") -> tuple[threading.Thread, threading.Event]:
    """Run ``sender`` in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop,), name=name, daemon=True)
    thread.start()
    return thread, stop
