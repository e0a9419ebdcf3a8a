"""One request at a time per key, waited for in a way a cancel or a timeout ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..discovery import KeyHandle
from ..errors import Cancelled

POLL_SECONDS = 0.05  # how soon a queued request notices its cancel (a lock wait cannot watch an event)


@contextmanager
def key_in_use(key: KeyHandle, stop: Any, on_busy: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold ``key.busy``; a request queued behind another on the same key ends as soon as ``stop`` is set
    (its page aborted, its timeout passed, another key won) instead of when the first request frees the key.
    ``on_busy`` is called once if the key is serving another request (the ``fido.key_busy`` event)."""
    acquired = key.busy.acquire(blocking=False)
    if not acquired and on_busy is not None:
        on_busy()
    while not acquired:
        if stop is not None and stop.is_set():
            raise Cancelled(f"the request was cancelled while {key.name} served another one")
        acquired = key.busy.acquire(timeout=POLL_SECONDS)
    try:
        yield
    finally:
        key.busy.release()
