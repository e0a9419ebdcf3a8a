"""The unlocked vault's persisted state: the master key, the entries in memory and the file they mirror.

:class:`PersistedVault` re-reads the file when another process saved it, writes it atomically under the
cross-process lock, and forgets the key on :meth:`~PersistedVault.lock`. The operations on entries and
codes are :class:`~native_host.vault.unlocked.UnlockedVault`, built on it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import VaultLocked, VaultTampered
from . import store
from .entry import Entry
from .format import build_vault, parse_vault
from .plaintext import decode_plaintext, encode_plaintext, entry_json

T = TypeVar("T")


def _stat_signature(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class PersistedVault:
    """The key, the header, the entries (indexed by id and origin) and the file they came from."""

    def __init__(
        self,
        path: Path,
        master_key: bytes,
        header: dict[str, Any],
        entries: list[Entry],
        *,
        generation: int,
        fragments: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self._key: bytearray | None = bytearray(master_key)
        self._header = header
        self._generation = generation
        self._mutex = threading.RLock()  # the host may call from more than one thread
        self._file_bytes: bytes | None = None
        self._signature: tuple[int, int, int, int] | None = None
        self._set_entries(entries, fragments)

    # ---- state ---------------------------------------------------------------------------------------

    def _set_entries(self, entries: list[Entry], known_fragments: dict[str, str] | None = None) -> None:
        known = known_fragments or {}
        self._entries = list(entries)
        self._by_id = {e.id: e for e in self._entries}
        self._fragments = {e.id: known.get(e.id) or entry_json(e) for e in self._entries}
        self._reindex()

    def _reindex(self) -> None:
        by_origin: dict[str, list[Entry]] = {}
        for entry in self._entries:
            for origin in entry.origins:
                by_origin.setdefault(origin, []).append(entry)
        self._by_origin = by_origin

    def _master_key(self) -> bytes:
        if self._key is None:
            raise VaultLocked("the vault is locked; unlock it first")
        return bytes(self._key)

    def _remember(self, data: bytes) -> None:
        self._file_bytes = data
        self._signature = _stat_signature(self.path)

    def _reload_if_changed(self, *, thorough: bool) -> None:
        """Pick up a save by another process. ``thorough`` compares bytes, not just the file's stat."""
        from . import crypto

        key = self._master_key()
        if not thorough and _stat_signature(self.path) == self._signature and self._signature is not None:
            return
        data = store.read_vault_bytes(self.path)
        if data == self._file_bytes:
            self._signature = _stat_signature(self.path)
            return
        sealed = parse_vault(data)
        try:
            plaintext = crypto.unseal(key, sealed)
        except VaultTampered:
            if not crypto.master_key_replaced(self._header, sealed.header):
                raise
            self.lock()  # `vault passwd` in another process: our key is of no use any more
            raise VaultLocked(
                "the vault's password was changed in another process; unlock it with the new one"
            ) from None
        entries, generation, fragments = decode_plaintext(plaintext)
        self._header = sealed.header
        self._generation = generation
        self._set_entries(entries, fragments)
        self._remember(data)

    def _write(self, *, backup_is_new: bool = False) -> None:
        """Seal the in-memory state under a fresh nonce and replace the file (caller holds the lock)."""
        from . import crypto

        key = self._master_key()
        header = crypto.new_header(self._header["slots"])
        self._generation += 1
        # the fragments are kept in the order of self._entries
        plaintext = encode_plaintext(self._generation, self._fragments.values())
        data = build_vault(header, crypto.seal(key, header, plaintext))
        store.remove_stale_temp_files(self.path)
        store.atomic_write(self.path, data, backup_is_new=backup_is_new)
        self._header = header
        self._remember(data)

    def _mutate(self, change: Callable[[], T]) -> T:
        """Run ``change`` (which validates before it modifies anything) under the lock, then save."""
        with self._mutex:
            self._master_key()
            with store.file_lock(self.path):
                self._reload_if_changed(thorough=True)
                result = change()
                try:
                    self._write()
                except BaseException:
                    self._signature = self._file_bytes = None  # memory is ahead of the disk: re-read next time
                    raise
                return result

    def lock(self) -> None:
        """Forget the master key and the entries; every later call raises VaultLocked."""
        with self._mutex:
            if self._key is not None:
                self._key[:] = bytes(len(self._key))
            self._key = None
            self._set_entries([])
            self._file_bytes = None

    @property
    def locked(self) -> bool:
        return self._key is None
