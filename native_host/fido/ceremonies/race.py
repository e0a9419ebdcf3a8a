"""One ceremony on several keys at once: the first key touched wins and the others are cancelled.

Each key runs in its own thread with its own ``threading.Event``; python-fido2 turns a set event into
CTAPHID_CANCEL / NFC cancel / BLE CANCEL (or stops U2F polling). The request's own cancel event (the
page's AbortSignal) and its timeout set them all.
"""

from __future__ import annotations

import heapq
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..discovery import KeyHandle
from ..errors import (
    Cancelled,
    CredentialExcluded,
    DeviceRemoved,
    FidoError,
    NoCredential,
    NoDevice,
    PinBlocked,
    PinInvalid,
    PinRequired,
    TimedOut,
)
from .interaction import EventSink, no_events

T = TypeVar("T")

# When every key fails, the error the page sees is the most telling one.
_PRECEDENCE: list[type[FidoError]] = [CredentialExcluded, PinBlocked, PinInvalid, PinRequired, NoCredential,
                                      DeviceRemoved]


def _most_telling(errors: list[FidoError]) -> FidoError:
    for kind in _PRECEDENCE:
        for error in errors:
            if isinstance(error, kind):
                return error
    return errors[0]


class _Watchdog:
    """One shared timer thread for every request's deadline (starting a thread per request costs
    milliseconds on a busy machine; registering a deadline here costs microseconds). The thread is woken
    only when a new deadline is earlier than its next wake-up: waking it for every request made each
    request wait for the GIL to come back (about a third of a warm ceremony on the software key)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadlines: list[tuple[float, int, threading.Event]] = []
        self._counter = 0
        self._thread: threading.Thread | None = None
        self._wakes_at = math.inf  # when the sleeping thread looks at the deadlines next

    def watch(self, deadline: float, event: threading.Event) -> int:
        with self._cond:
            self._counter += 1
            heapq.heappush(self._deadlines, (deadline, self._counter, event))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fido-deadlines", daemon=True)
                self._thread.start()
            elif deadline < self._wakes_at:
                self._cond.notify()
            return self._counter

    def unwatch(self, handle: int) -> None:
        with self._cond:  # the thread may wake for a removed deadline: it then finds nothing due
            self._deadlines = [d for d in self._deadlines if d[1] != handle]
            heapq.heapify(self._deadlines)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._deadlines and self._deadlines[0][0] <= now:
                    heapq.heappop(self._deadlines)[2].set()
                self._wakes_at = self._deadlines[0][0] if self._deadlines else math.inf
                self._cond.wait(self._wakes_at - now if self._deadlines else None)


_watchdog = _Watchdog()


def _run_alone(key: KeyHandle, work: Callable[[KeyHandle, threading.Event], T], cancel: threading.Event,
               deadline: float | None, to_fido_error: Callable[[BaseException, KeyHandle], FidoError],
               on_event: EventSink) -> tuple[KeyHandle, T]:
    """One key: run on the caller's thread; the request's cancel event is the key's stop event."""
    timed_out = threading.Event()
    stop = cancel
    handle = None
    if deadline is not None:
        handle = _watchdog.watch(deadline, timed_out)
        stop = _AnyEvent(cancel, timed_out)  # type: ignore[assignment]
    try:
        value = work(key, stop)
    except BaseException as exc:
        if cancel.is_set():
            raise Cancelled("the request was cancelled") from exc
        if timed_out.is_set():
            raise TimedOut("no security key was touched in time") from exc
        error = to_fido_error(exc, key)
        if isinstance(error, DeviceRemoved):
            on_event("fido.key_removed", {"device": key.id})
        raise error from exc
    finally:
        if handle is not None:
            _watchdog.unwatch(handle)
    on_event("fido.selected", {"device": key.id})
    return key, value


class _AnyEvent:
    """The subset of ``threading.Event`` python-fido2 uses, set when either event is."""

    def __init__(self, *events: threading.Event) -> None:
        self._events = events
        self._first, self._second = events

    def is_set(self) -> bool:  # python-fido2 asks at every packet it reads: kept to two C calls
        return self._first.is_set() or self._second.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            remaining = None if end is None else end - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._events[0].wait(0.02 if remaining is None else min(0.02, remaining))
        return True

    def set(self) -> None:
        self._events[0].set()


def first_touched(keys: Sequence[KeyHandle], work: Callable[[KeyHandle, threading.Event], T], *,
                  cancel: threading.Event | None = None, timeout: float | None = None,
                  on_event: EventSink = no_events,
                  to_fido_error: Callable[[BaseException, KeyHandle], FidoError]) -> tuple[KeyHandle, T]:
    """Run ``work(key, stop_event)`` on every key; return the first success, cancel the rest."""
    if not keys:
        raise NoDevice("no security key is connected")
    cancel = cancel or threading.Event()
    deadline = None if timeout is None else time.monotonic() + timeout
    if len(keys) == 1:
        return _run_alone(keys[0], work, cancel, deadline, to_fido_error, on_event)
    stops = {key.id: threading.Event() for key in keys}
    results: queue.Queue[tuple[KeyHandle, bool, Any]] = queue.Queue()

    def runner(key: KeyHandle) -> None:
        try:
            results.put((key, True, work(key, stops[key.id])))
        except BaseException as exc:  # every failure becomes a per-key result, never a dead thread
            results.put((key, False, exc))

    threads = [threading.Thread(target=runner, args=(key,), name=f"fido-{key.transport}", daemon=True)
               for key in keys]
    for thread in threads:
        thread.start()
    errors: list[FidoError] = []
    pending = len(keys)
    stopped_by: str | None = None
    grace_end: float | None = None  # after a cancel, wait this long for the keys to acknowledge it
    while pending and (grace_end is None or time.monotonic() < grace_end):
        if stopped_by is None and cancel.is_set():
            stopped_by = "cancel"
        if stopped_by is None and deadline is not None and time.monotonic() > deadline:
            stopped_by = "timeout"
        if stopped_by is not None and grace_end is None:
            grace_end = time.monotonic() + 3.0
            for stop in stops.values():
                stop.set()
        try:
            key, ok, value = results.get(timeout=0.05)
        except queue.Empty:
            continue
        pending -= 1
        if ok and stopped_by is None:
            on_event("fido.selected", {"device": key.id})
            for other, stop in stops.items():
                if other != key.id:
                    stop.set()  # the losers end on their own threads; nobody waits for them
            return key, value
        elif not ok:
            error = to_fido_error(value, key)
            if isinstance(error, DeviceRemoved):
                on_event("fido.key_removed", {"device": key.id})
            errors.append(error)
    if stopped_by == "cancel":
        raise Cancelled("the request was cancelled")
    if stopped_by == "timeout":
        raise TimedOut("no security key was touched in time")
    raise _most_telling(errors)
