"""Drives one CTAP2 command generator through its presence checks, for any transport framing.

``step()`` asks the presence policy once: the command either finishes (``reply`` set) or is still
waiting for a touch, in which case the framing sends a keepalive (UPNEEDED) and steps again later.
``cancel()`` ends the command with CTAP2_ERR_KEEPALIVE_CANCEL, as a real key does on CTAPHID_CANCEL.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import AbstractContextManager, nullcontext

from .presence import PresencePolicy, PresenceRequest

KEEPALIVE_CANCEL = 0x2D
STATUS_PROCESSING, STATUS_UPNEEDED = 1, 2


class CommandRun:
    def __init__(self, command: Generator[PresenceRequest, bool, bytes], presence: PresencePolicy,
                 on_done: Callable[[], None] | None = None,
                 lock: AbstractContextManager[object] | None = None) -> None:
        self._command = command
        # The key store's lock, held while the command runs (never while it waits for a touch).
        self._lock = lock if lock is not None else nullcontext()
        self._presence = presence
        self._on_done = on_done
        self.reply: bytes | None = None
        self.waiting: PresenceRequest | None = None
        self.polls = 0
        self._advance(None)

    def _advance(self, value: bool | None) -> None:
        with self._lock:
            self._advance_locked(value)

    def _advance_locked(self, value: bool | None) -> None:
        try:
            self.waiting = self._command.send(value)  # type: ignore[arg-type]  # first send must be None
        except StopIteration as done:
            self.waiting = None
            self.reply = done.value
            if self._on_done is not None:
                self._on_done()

    @property
    def keepalive_status(self) -> int:
        return STATUS_UPNEEDED if self.waiting is not None else STATUS_PROCESSING

    def step(self) -> bytes | None:
        """Ask for presence once if waiting; return the reply when the command has finished."""
        if self.reply is None and self.waiting is not None:
            self.polls += 1
            answer = self._presence.poll(self.waiting)
            if answer is not None:
                self._advance(answer)
        return self.reply

    def cancel(self) -> bytes:
        """End a waiting command (CTAPHID_CANCEL / NFC GETRESPONSE cancel / BLE CANCEL)."""
        if self.reply is None:
            with self._lock:
                self._command.close()
            self.waiting = None
            self.reply = bytes([KEEPALIVE_CANCEL])
        return self.reply
