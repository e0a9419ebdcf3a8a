"""The gate every verification passes: rate limits before the check, counters and audit after it, and the
mail an event causes (outbox rows, written by the store in the event's own transaction).

Counters: the username (known or not, so a lock never tells whether a user exists) with a back-off that
always lifts by itself, and the client address (plus its /64 for IPv6), which hard-locks at
``ip_rate_limit.max_failures``. The rules are pure functions in :mod:`verifier.core.ratelimit`; this
module applies them to the store and writes the audit events, including the live feed to subscribers.
The factor services read, count and clear failure counters only through the gate, and build the audit rows
and outbox mails of their events with it (``record``, ``mails``, ``sign_in_network``).
See docs/verifier.md, "Rate limiting and lockout".
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..core import notices, ratelimit
from ..core.audit import make_event
from ..settings import VerifierSettings
from ..store import Store
from ..store.base import NOTICES_SETTING, Effects, NewNetwork
from .results import OK, VerifyResult

AuditListener = Callable[[dict[str, Any]], None]
Failures = Mapping[str, tuple[int, float | None]]


class Outcome:
    """Effects that an event's outcome decides (a count, whether something was there), built by the store inside
    the event's transaction and kept here to be published afterwards."""

    def __init__(self, build: Callable[[Any], Effects]) -> None:
        self._build = build
        self.effects = Effects()

    def __call__(self, outcome: Any) -> Effects:
        self.effects = self._build(outcome)
        return self.effects


class Gate:
    """Rate limiting and audit for the factor services; one per verifier, shared by all of them."""

    def __init__(self, store: Store, settings: VerifierSettings, clock: Callable[[], float]) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self._listeners: list[AuditListener] = []
        self._listeners_lock = threading.Lock()

    # ---- rate limits --------------------------------------------------------------------------------
    @staticmethod
    def counter_keys(username: str, ip: str) -> tuple[str, ...]:
        """Every counter an attempt by ``username`` from ``ip`` is checked against."""
        return (ratelimit.user_key(username), *ratelimit.address_keys(ip))

    @staticmethod
    def locked(failures: Failures, now: float) -> VerifyResult | None:
        """``locked`` with the time left when any of the read counters is locked at ``now``, else None."""
        end = ratelimit.lock_end((lock for _count, lock in failures.values()), now)
        return VerifyResult(False, "locked", end - now) if end is not None else None

    def check(self, username: str, ip: str) -> VerifyResult | None:
        """:meth:`locked` for a request whose factor service has not read the counters itself."""
        return self.locked(self.store.failures_for(self.counter_keys(username, ip)), self.clock())

    def user_locked_until(self, username: str, now: float) -> float | None:
        """When the user's own counter lock ends, if it holds at ``now``."""
        _count, until = self.store.get_failures(ratelimit.user_key(username))
        return ratelimit.lock_end((until,), now)

    def clear(self, username: str, ip: str | None = None) -> None:
        """Forget the user's counter (and with ``ip``, the address's and its /64's): a lock lifts at once."""
        self.store.clear_failures(ratelimit.user_key(username))
        for key in ratelimit.address_keys(ip) if ip else ():
            self.store.clear_failures(key)

    def fail(self, username: str, ip: str, ua: str, method: str, reason: str, credential: str | None = None, *,
             count_user: bool = True, audit_result: str | None = None, detail: str | None = None) -> VerifyResult:
        """Count a failure, start any back-off or lock it earns, audit it; ``reason`` is what the caller sees.

        ``count_user=False`` for replays: a replayed code was right once, so it is no guess at the user's
        factor, and counting it would let whoever saw one code lock the user out. It still counts against
        the address. ``audit_result`` keeps the truth (e.g. ``not_enrolled``) for the admin's log when the
        answer must not tell it.
        """
        now = self.clock()
        user_key = ratelimit.user_key(username)
        counts = self.store.add_failures(((user_key,) if count_user else ()) + ratelimit.address_keys(ip))
        locks = ratelimit.locks_after_failures(counts, now, user_key, self.settings.rate_limit,
                                               self.settings.ip_rate_limit)
        if locks:
            # The locks, their audit rows and the mail to a user whose account it locks: one transaction.
            effects = Effects([self._lock_record(key, until, counts[key], now, username, method, ip, ua)
                               for key, until in locks.items()],
                              self._lock_mails(username, locks.get(user_key), counts.get(user_key, 0), now, ip, ua))
            self.store.apply_locks(locks, effects)
            self.published(effects)
        self.audit("verify", username=username, method=method, credential=credential, ip=ip, user_agent=ua,
                   result=audit_result or reason, detail=detail)
        return VerifyResult(False, reason, (max(locks.values()) - now) if locks else None)

    def _lock_record(self, key: str, until: float, count: int, now: float, username: str, method: str, ip: str,
                     ua: str) -> dict[str, Any]:
        if until == ratelimit.HARD_LOCK_UNTIL:
            return make_event(now, "lockout", username=username, method=method, ip=ip, user_agent=ua,
                              result="locked",
                              detail=f"{key} locked until an admin unlocks it: {count} consecutive failures").to_dict()
        alarm = " (at or past the 100 NIST allows: an attack on this user?)" \
            if count >= ratelimit.MAX_ALLOWED_FAILURES else ""
        return make_event(now, "throttled", username=username, method=method, ip=ip, user_agent=ua, result="locked",
                          detail=f"{key} back-off {until - now:.0f} s after {count} consecutive failures{alarm}"
                          ).to_dict()

    def _lock_mails(self, username: str, until: float | None, count: int, now: float, ip: str,
                    ua: str) -> list[dict[str, Any]]:
        """The mail to a user whose own counter this failure locked: at the first back-off of a streak and at 100
        failures (the store writes it only when such a user exists)."""
        if until is None or not notices.lock_mail_due(count, self.settings.rate_limit):
            return []
        return self.mails("account_locked", username, now, ip=ip, user_agent=ua, failures=count,
                          locked_for=round(until - now), attack=count >= ratelimit.MAX_ALLOWED_FAILURES)

    def succeed(self, username: str, ip: str, ua: str, method: str, credential: str | None = None,
                detail: str | None = None) -> VerifyResult:
        """Clear the attempt's counters and audit the success, in one transaction."""
        record = self.success_record(username, ip, ua, method, credential, detail)
        self.accepted(record, self.store.record_success(self.counter_keys(username, ip), record))
        return OK

    # ---- mail ---------------------------------------------------------------------------------------
    def mails(self, kind: str, username: str, now: float, *, settings: notices.NoticeSettings | None = None,
              **params: Any) -> list[dict[str, Any]]:
        """The outbox row of a ``kind`` notice to ``username`` (to be written with the event), or none when the
        admin has mail or this kind switched off. ``settings``: when the caller's read already carried them (a
        sign-in), else they are read here (an event that is not on a hot path)."""
        if not (settings or self.notice_settings()).sends(kind):
            return []
        return [notices.outbox_row(kind, username, now, **params)]

    def notice_settings(self) -> notices.NoticeSettings:
        """The admin's mail settings as stored now."""
        return notices.notice_settings_of(self.store.get_setting(NOTICES_SETTING))

    def sign_in_network(self, username: str, context: dict[str, Any], network: str | None, now: float, ip: str,
                        ua: str, method: str) -> NewNetwork | None:
        """What an accepted sign-in writes about its network: nothing when mail (or ``new_network``) is off or the
        network is known (the usual sign-in: the write it always was); else record the network, and mail it
        when the user had signed in from others before (a user's first recorded network is not news)."""
        raw = context["notices"]
        if raw is None or network is None or context["seen_network"] == notices.SEEN_THIS or \
                not notices.notice_settings_of(raw).sends("new_network"):
            return None
        mail = notices.outbox_row("new_network", username, now, ip=ip, user_agent=ua, method=method) \
            if context["seen_network"] == notices.SEEN_OTHER else None
        return NewNetwork(network, mail)

    # ---- audit --------------------------------------------------------------------------------------
    def success_record(self, username: str, ip: str, ua: str, method: str, credential: str | None = None,
                       detail: str | None = None, now: float | None = None) -> dict[str, Any]:
        """The audit row of an accepted verification, for a store call that writes it with the acceptance."""
        return make_event(self.clock() if now is None else now, "verify", username=username, method=method,
                          credential=credential, ip=ip, user_agent=ua, result="ok", detail=detail).to_dict()

    def accepted(self, record: dict[str, Any], audit_id: int) -> None:
        """Publish an audit row the store wrote together with an acceptance."""
        record["id"] = audit_id
        self.publish(record)

    def record(self, event: str, now: float | None = None, **fields: Any) -> dict[str, Any]:
        """An audit row for a store call that writes it with its change (in :class:`Effects`)."""
        return make_event(self.clock() if now is None else now, event, **fields).to_dict()

    def published(self, effects: Effects) -> None:
        """Publish the audit rows a store call wrote with its change (the store set their ids)."""
        for record in effects.audit:
            if "id" in record:
                self.publish(record)

    def audit(self, event: str, **fields: Any) -> None:
        """Write one audit event and publish it."""
        record = make_event(self.clock(), event, **fields).to_dict()
        record["id"] = self.store.add_audit(record)
        self.publish(record)

    def publish(self, record: dict[str, Any]) -> None:
        """Hand a written audit row (a JSON-ready dict, as WebSockets send it) to every listener."""
        with self._listeners_lock:
            listeners = list(self._listeners)
        for callback in listeners:
            with contextlib.suppress(Exception):  # a broken listener must never break a login
                callback(dict(record))

    def subscribe(self, callback: AuditListener) -> Callable[[], None]:
        """Call ``callback(event_dict)`` for every new audit event; returns an unsubscribe function."""
        with self._listeners_lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._listeners_lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe
