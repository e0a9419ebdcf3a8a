"""User-presence simulation: the policy a software authenticator asks instead of a touch sensor.

A policy's ``poll(request)`` answers ``True`` (touched), ``False`` (the user refused) or ``None``
(no touch yet; the transport sends a keepalive and asks again). Policies must not block.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PresenceRequest:
    """What the authenticator wants the touch for (shown by interactive policies)."""

    purpose: str  # "makeCredential", "getAssertion", "u2fRegister", "u2fAuthenticate", "reset", "selection"
    rp_id: str | None = None


class PresencePolicy(Protocol):
    def poll(self, request: PresenceRequest) -> bool | None: ...


class AlwaysPresent:
    """Answers every presence check at once: the virtual key's behaviour."""

    def poll(self, request: PresenceRequest) -> bool | None:
        return True


class NeverTouched:
    """Never touched: a request waits (keepalives) until cancelled or timed out."""

    def poll(self, request: PresenceRequest) -> bool | None:
        return None


class RefusePresence:
    """The user declines (e.g. a key with a "deny" button)."""

    def poll(self, request: PresenceRequest) -> bool | None:
        return False


class TouchAfter:
    """Touched on the ``polls``-th check: exercises keepalive and U2F polling paths."""

    def __init__(self, polls: int) -> None:
        self.remaining = polls

    def poll(self, request: PresenceRequest) -> bool | None:
        if self.remaining <= 0:
            return True
        self.remaining -= 1
        return None


class ManualTouch:
    """Touched when ``touch()`` is called (from another thread); each touch answers one check."""

    def __init__(self) -> None:
        self._touched = threading.Event()
        self.requests: list[PresenceRequest] = []

    def touch(self) -> None:
        self._touched.set()

    def poll(self, request: PresenceRequest) -> bool | None:
        if not self.requests or self.requests[-1] is not request:
            self.requests.append(request)
        if self._touched.is_set():
            self._touched.clear()
            return True
        return None


class RefuseAfter:
    """Untouched for ``polls`` checks, then refused: lets a test of cancel fail instead of hanging."""

    def __init__(self, polls: int) -> None:
        self.remaining = polls

    def poll(self, request: PresenceRequest) -> bool | None:
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return None
