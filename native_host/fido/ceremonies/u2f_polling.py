"""U2F has no keepalive: a key without a touch answers 6985 and the platform asks again."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from fido2.ctap1 import APDU, ApduError

from ..errors import TimedOut

T = TypeVar("T")
POLL_INTERVAL = 0.1


def poll_until_touched(attempt: Callable[[], T], stop: threading.Event, on_touch_needed: Callable[[], None]) -> T:
    """Repeat ``attempt`` while the key wants a touch; announce it once; give up when ``stop`` is set."""
    announced = False
    while not stop.is_set():
        try:
            return attempt()
        except ApduError as exc:
            if exc.code != APDU.USE_NOT_SATISFIED:
                raise
            if not announced:
                announced = True
                on_touch_needed()
            stop.wait(POLL_INTERVAL)
    raise TimedOut("the key was not touched in time")
