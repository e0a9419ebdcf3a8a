"""Prompts during a ceremony, turned into host events; the PIN comes back from the extension's UI.

Events (``on_event(name, details)``), all carrying ``device`` (the key's id) where one applies:
- ``fido.touch``       — a key waits for a touch ("touch your key");
- ``fido.pin_needed``  — a key needs its PIN; ``details`` has ``rpId``; the answer comes from ``pin_provider``.
                         Asked again after a wrong PIN, it also has ``wrongPin: true`` and ``retries`` (the
                         tries the key has left, or null when the key cannot say);
- ``fido.key_removed`` — a key went away during the request;
- ``fido.selected``    — this key answered first; the others were cancelled;
- ``fido.key_busy``    — the key serves another request; this one waits (a cancel ends the wait).
The PIN is never put in an event, a log line or an exception message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fido2.client import UserInteraction

EventSink = Callable[[str, dict[str, Any]], None]
# (key id, rpId) -> the PIN, or None when the user declines
PinProvider = Callable[[str, "str | None"], "str | None"]


def no_events(name: str, details: dict[str, Any]) -> None:
    """The default sink: nobody listening."""


class HostInteraction(UserInteraction):
    """python-fido2's ``UserInteraction`` for one key of one request."""

    def __init__(self, key_id: str, on_event: EventSink, pin_provider: PinProvider | None) -> None:
        self.key_id = key_id
        self.on_event = on_event
        self.pin_provider = pin_provider
        self.pin_asked = 0
        self._touch_announced = False
        self._wrong_pin: dict[str, Any] = {}

    def pin_was_wrong(self, retries: int | None) -> None:
        """The PIN just given was wrong: the next ``fido.pin_needed`` says so, with the tries left."""
        self._wrong_pin = {"wrongPin": True, "retries": retries}

    @property
    def touch_asked(self) -> bool:
        """True once the key has waited for a touch in this request (a CTAP 2.1 key waits for one before it
        answers "already registered")."""
        return self._touch_announced

    def prompt_up(self) -> None:
        if not self._touch_announced:  # one "touch your key" per key and request, not one per poll
            self._touch_announced = True
            self.on_event("fido.touch", {"device": self.key_id})

    def request_pin(self, permissions: Any, rp_id: str | None) -> str | None:
        self.pin_asked += 1
        self.on_event("fido.pin_needed", {"device": self.key_id, "rpId": rp_id, **self._wrong_pin})
        self._wrong_pin = {}
        if self.pin_provider is None:
            return None
        return self.pin_provider(self.key_id, rp_id)

    def request_uv(self, permissions: Any, rp_id: str | None) -> bool:
        return True
