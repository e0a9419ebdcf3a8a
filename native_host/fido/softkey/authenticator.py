"""The software authenticator façade that every transport framing talks to.

``SoftAuthenticator(store, presence=...)`` answers CTAP2 requests (as a :class:`CommandRun` that may
wait for presence) and U2F APDUs (immediately). ``on_change`` is called after anything that changes the
store (a new credential, a counter, the PIN), so the virtual key can persist it.

Thread safety: every step of a command (up to a touch, and from the touch to the reply, ``on_change``
included) runs under the store's lock (``KeyStore.lock``), so the framings of one key, or several keys
over one store, may be driven from several threads at once.
"""

from __future__ import annotations

from collections.abc import Callable

from .ctap2 import Ctap2Core
from .presence import AlwaysPresent, PresencePolicy, PresenceRequest
from .run import CommandRun
from .store import KeyStore
from .u2f import U2fCore


class SoftAuthenticator:
    """CTAP2 + U2F over one key store. ``ctap2=False`` makes a U2F-only key, ``u2f=False`` a FIDO2-only one."""

    def __init__(self, store: KeyStore | None = None, *, presence: PresencePolicy | None = None,
                 ctap2: bool = True, u2f: bool = True, transports: tuple[str, ...] = ("usb",),
                 on_change: Callable[[KeyStore], None] | None = None) -> None:
        self.store = store or KeyStore()
        self.presence: PresencePolicy = presence or AlwaysPresent()
        self.ctap2_enabled, self.u2f_enabled = ctap2, u2f
        self.on_change = on_change
        self.ctap2 = Ctap2Core(self.store, transports=transports, u2f=u2f)
        self.u2f = U2fCore(self.store, self._poll_presence)

    @property
    def label(self) -> str:
        return self.store.label

    def _poll_presence(self, request: PresenceRequest) -> bool | None:
        return self.presence.poll(request)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.store)

    def start_cbor(self, request: bytes) -> CommandRun:
        """Begin one CTAP2 request; the caller steps the run until it has a reply."""
        return CommandRun(self.ctap2.handle(request), self.presence, on_done=self._changed, lock=self.store.lock)

    def handle_cbor(self, request: bytes) -> bytes:
        """Run one CTAP2 request to completion with the presence policy (must not stay untouched)."""
        run = self.start_cbor(request)
        while run.step() is None:
            if run.polls > 10_000:  # a policy that never answers: end as a real key's timeout would
                return run.cancel()
        return run.reply

    def handle_apdu(self, apdu: bytes) -> bytes:
        """One U2F APDU → response data + status word."""
        with self.store.lock:
            reply = self.u2f.handle(apdu)
            if reply[-2:] == b"\x90\x00":
                self._changed()
            return reply
