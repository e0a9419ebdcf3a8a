"""The developer's virtual key: the software authenticator persisted at ``TRACKER2FA_VIRTUAL_KEY=PATH``.

Never on by default; everywhere it appears it is named a virtual key for testing, not a security key.
It answers presence checks by itself. The file (0600, atomic writes) is re-read each time the key is
opened and saved (fsynced) after a change, before the key answers; its counter is a reservation ahead of
the one in use (``COUNTER_RESERVE``), so counters survive restarts and crashes and most signatures write
nothing. Two hosts using one file at the same moment may lose a counter step (acceptable for a test tool,
documented).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .softkey.authenticator import SoftAuthenticator
from .softkey.presence import AlwaysPresent, PresencePolicy
from .softkey.store import VIRTUAL_KEY_LABEL, KeyStore, StoreError

ENV_VAR = "TRACKER2FA_VIRTUAL_KEY"
# For tracker developers' headless tests: the extension runs a page's request on the virtual key without
# asking in its consent window (as Chrome DevTools' virtual authenticator simulates presence). Only while
# the virtual key is the only key: a real key always gets the consent window.
AUTO_CONFIRM_ENV_VAR = "TRACKER2FA_VIRTUAL_KEY_AUTO_CONFIRM"
COUNTER_RESERVE = 64  # counter values persisted ahead, so most signatures need no file write

__all__ = ["AUTO_CONFIRM_ENV_VAR", "ENV_VAR", "VIRTUAL_KEY_LABEL", "StoreError", "VirtualKey", "auto_confirm_from_env",
           "virtual_key_from_env"]


class VirtualKey:
    """A software key backed by a file. ``open_device()`` gives a python-fido2 ``CtapHidDevice``."""

    def __init__(self, path: Path, *, presence: PresencePolicy | None = None) -> None:
        self.path = Path(path)
        self.presence = presence or AlwaysPresent()
        self._stamp: tuple[int, int] | None = None  # (mtime_ns, size) of the file as last read or written
        self._written: bytes | None = None  # its content then
        self._reserved = -1  # the counter written in it: signatures up to it need no write

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def changed_on_disk(self) -> bool:
        """True when someone else wrote the file since this process last read or wrote it."""
        return self._file_stamp() != self._stamp

    def load(self) -> KeyStore:
        """The key's store; a missing file is created (0600). A damaged one raises StoreError, untouched."""
        if not self.path.exists():
            store = KeyStore()
            self._save(store)
            return store
        store = KeyStore.load(self.path)
        self._stamp = self._file_stamp()
        self._written, self._reserved = store.to_bytes(), store.counter
        return store

    def _save(self, store: KeyStore) -> None:
        # Called after every CTAP2 command and U2F signature, before its reply leaves the key. The file holds
        # a counter reservation (COUNTER_RESERVE above the value in use): a signature within it needs no
        # write, one past it writes the next reservation durably first, so after a crash the key goes on
        # above every counter it ever signed (monotonic; gaps are allowed). A command that changed nothing
        # else (getInfo, a credential filter) writes nothing either: each write costs two fsyncs.
        reserved = self._reserved if store.counter <= self._reserved else store.counter + COUNTER_RESERVE
        data = store.to_bytes(counter=reserved)
        if data == self._written and not self.changed_on_disk():
            return
        store.save(self.path, data)
        self._written, self._reserved = data, reserved
        self._stamp = self._file_stamp()

    def authenticator(self) -> SoftAuthenticator:
        return SoftAuthenticator(self.load(), presence=self.presence, transports=("usb",), on_change=self._save)

    def open_device(self):  # -> fido2.hid.CtapHidDevice (fido2 is imported lazily)
        from .soft_transports.hid import open_soft_hid_device

        return open_soft_hid_device(self.authenticator(), path=f"virtual:{self.path}", keepalive_interval=0.02)


def virtual_key_from_env(env: Mapping[str, str] | None = None) -> VirtualKey | None:
    """The virtual key named by ``TRACKER2FA_VIRTUAL_KEY``, or None when it is unset or empty."""
    value = (os.environ if env is None else env).get(ENV_VAR, "")
    return VirtualKey(Path(value).expanduser()) if value else None


def auto_confirm_from_env(env: Mapping[str, str] | None = None) -> bool:
    """True when ``TRACKER2FA_VIRTUAL_KEY_AUTO_CONFIRM`` is ``1``/``true``/``yes`` and a virtual key is set."""
    values = os.environ if env is None else env
    wanted = values.get(AUTO_CONFIRM_ENV_VAR, "").strip().lower() in ("1", "true", "yes")
    return wanted and bool(values.get(ENV_VAR, ""))
