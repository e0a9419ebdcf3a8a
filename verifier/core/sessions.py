"""Rules of the gate's sessions, without I/O: the token, what is stored of it, and when a session lives.

A session token is 32 random bytes, URL-safe base64 (43 characters), carried only in the cookie; the
database keeps its SHA-256. A value of any other shape is refused before it is hashed, so junk never
reaches the database.

A session lives while both hold: ``now < created + absolute`` (a login is good for at most that long,
whatever the activity; rotation keeps ``created``) and ``now < last_seen + idle``. ``last_seen`` is
written at most once per :func:`touch_interval` (a write per proxied request would make every page view a
database write), so a session left alone expires up to one interval before ``idle`` has passed since its
last request; never later.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import IntEnum

TOKEN_BYTES = 32
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_TOUCH_INTERVAL = 60.0


class Level(IntEnum):
    """How far a session's login went."""

    ONE_FACTOR = 1  # the password (local or LDAP)
    TWO_FACTORS = 2  # then a second factor, a remembered device, or the verifier's policy exempted the user


@dataclass(frozen=True)
class Timeouts:
    """Session lifetimes in seconds: ``idle`` without a request, ``absolute`` from the first factor."""

    idle: float
    absolute: float

    def __post_init__(self) -> None:
        if not 0 < self.idle <= self.absolute:
            raise ValueError("the idle timeout must be positive and at most the absolute timeout")


def new_token() -> str:
    """A fresh session token (256 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


@functools.lru_cache(maxsize=4096)  # a session's token comes back with every request of its browser
def token_hash(token: str) -> str | None:
    """What the database keeps of ``token``; None for a value that cannot be a token."""
    if not isinstance(token, str) or TOKEN_RE.fullmatch(token) is None:
        return None
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def new_sid() -> str:
    """A session's public id (what admins list and revoke by): unrelated to its token."""
    return secrets.token_hex(8)


def touch_interval(timeouts: Timeouts) -> float:
    """How stale ``last_seen`` may get before a request writes it again."""
    return min(MAX_TOUCH_INTERVAL, timeouts.idle / 10)


def is_alive(created: float, last_seen: float, now: float, timeouts: Timeouts) -> bool:
    """True while the session is within both its absolute and its idle lifetime."""
    return now < created + timeouts.absolute and now < last_seen + timeouts.idle


def needs_touch(last_seen: float, now: float, timeouts: Timeouts) -> bool:
    """True when this request should record activity."""
    return now - last_seen >= touch_interval(timeouts)


def dead_after(created: float, last_seen: float, timeouts: Timeouts) -> float:
    """When the row is certainly dead as of ``last_seen`` (the sweep deletes rows past it)."""
    return min(created + timeouts.absolute, last_seen + timeouts.idle)
