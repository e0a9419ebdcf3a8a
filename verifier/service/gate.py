"""The gate every verification passes: rate limits before the check, counters and audit after it.

Counters: the username (known or not, so a lock never tells whether a user exists) with a back-off that
always lifts by itself, and the client address (plus its /64 for IPv6), which hard-locks at
``ip_rate_limit.max_failures``. The rules are pure functions in :mod:`verifier.core.ratelimit`; this
module applies them to the store and writes the audit events, including the live feed to subscribers.
The factor services read, count and clear failure counters only through the gate.
See docs/verifier.md, "Rate limiting and lockout".
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ..core import ratelimit
from ..core.audit import make_event
from ..settings import VerifierSettings
from ..store import Store
from .results import OK, VerifyResult

AuditListener = Callable[[dict[str, Any]], None]
Failures = Mapping[str, tuple[int, float | None]]


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
        for key, until in locks.items():
            self.store.set_locked_until(key, until)
            self._audit_lock(key, until, counts[key], now, username, method, ip, ua)
        self.audit("verify", username=username, method=method, credential=credential, ip=ip, user_agent=ua,
                   result=audit_result or reason, detail=detail)
        return VerifyResult(False, reason, (max(locks.values()) - now) if locks else None)

    def _audit_lock(self, key: str, until: float, count: int, now: float, username: str, method: str, ip: str,
                    ua: str) -> None:
        if until == ratelimit.HARD_LOCK_UNTIL:
            self.audit("lockout", username=username, method=method, ip=ip, user_agent=ua, result="locked",
                       detail=f"{key} locked until an admin unlocks it: {count} consecutive failures")
            return
        alarm = " (at or past the 100 NIST allows: an attack on this user?)" \
            if count >= ratelimit.MAX_ALLOWED_FAILURES else ""
        self.audit("throttled", username=username, method=method, ip=ip, user_agent=ua, result="locked",
                   detail=f"{key} back-off {until - now:.0f} s after {count} consecutive failures{alarm}")

    def succeed(self, username: str, ip: str, ua: str, method: str, credential: str | None = None,
                detail: str | None = None) -> VerifyResult:
        """Clear the attempt's counters and audit the success, in one transaction."""
        record = self.success_record(username, ip, ua, method, credential, detail)
        self.accepted(record, self.store.record_success(self.counter_keys(username, ip), record))
        return OK

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
