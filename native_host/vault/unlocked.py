"""The vault's operations: ``VaultFile`` (a path: create, unlock) and ``UnlockedVault`` (entries, codes, every
mutation). The plaintext model they read and write (entry validation, the database layout) is ``plaintext.py``.

Every mutation takes the cross-process lock, re-reads the file if another process changed it, applies
the change, writes atomically with a rolling backup, and releases the lock: two hosts never lose an entry.
A file that fails to decrypt or parse is never written over.

Longer than our ~400-line guide on purpose: every mutation goes through the same lock, reload and write
steps here, and keeping them in one class keeps that discipline in one place.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..errors import (
    AmbiguousEntry,
    BadRequest,
    EntryNotFound,
    OriginNotAllowed,
    VaultError,
    VaultExists,
)
from ..origins import Origin
from . import store
from .entry import Entry, new_entry_id, oversized_field
from .format import parse_vault
from .persisted import PersistedVault
from .plaintext import (
    EDITABLE_FIELDS,
    checked_backup_codes,
    decode_plaintext,
    entry_json,
    normalized_origins,
    with_exact_types,
)

# Reads a security key for one of the vault's fido2-prf slots: (the slot it opened, its hmac-secret output).
SecretReader = Callable[[list[dict[str, Any]]], tuple[dict[str, Any], bytes]]

LAST_USED_GRANULARITY = 60.0  # seconds: a code request rewrites the file at most once a minute per entry


def _check_password(password: Any) -> str:
    if not isinstance(password, str) or not password:
        raise BadRequest("the password must be a non-empty string")
    return password


class VaultFile:
    """A vault at ``path``, not yet unlocked."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        """True when a file exists at the path (it may still be damaged)."""
        return self.path.is_file()

    def create(self, password: str, *, kdf: str = "scrypt", kdf_cost: str = "default") -> UnlockedVault:
        """Create an empty vault protected by ``password``. Raises VaultExists if a file is there."""
        from . import crypto

        _check_password(password)
        params = crypto.kdf_params(kdf, kdf_cost)
        store.ensure_private_directory(self.path.parent)
        with store.file_lock(self.path):
            if self.path.exists():
                raise VaultExists(f"a vault already exists at {self.path}; refusing to overwrite it")
            master_key = crypto.new_master_key()
            slots = [crypto.password_slot(password, master_key, params)]
            vault = UnlockedVault(self.path, master_key, crypto.new_header(slots), [], generation=0)
            vault._write()
        return vault

    def unlock(self, password: str) -> UnlockedVault:
        """Open the vault. Raises VaultNotFound, WrongPassword, VaultTampered, VaultCorrupt, UnsupportedVersion."""
        from . import crypto

        _check_password(password)
        data = store.read_vault_bytes(self.path)
        sealed = parse_vault(data)
        master_key = crypto.open_master_key(sealed, password)
        entries, generation, fragments = decode_plaintext(crypto.unseal(master_key, sealed))
        vault = UnlockedVault(self.path, master_key, sealed.header, entries, generation=generation,
                              fragments=fragments)
        vault._remember(data)
        return vault

    def unlock_with_security_key(self, read_secret: SecretReader) -> UnlockedVault:
        """Open the vault through a security-key slot: ``read_secret`` touches the key (see
        ``native_host.fido.vault_key.unlock_vault``). Raises NoKeySlot, WrongSecurityKey and the errors of
        :meth:`unlock`; the file is only read."""
        from . import crypto, key_slot

        data = store.read_vault_bytes(self.path)
        sealed = parse_vault(data)
        slots = sealed.key_slots()
        if not slots:
            raise key_slot.NoKeySlot("this vault has no security-key slot: unlock it with the password "
                                     "(`tracker2fa vault key add` enrols a key)")
        slot, secret = read_secret(slots)
        master_key = key_slot.unwrap_key_slot(dict(slot), secret)
        entries, generation, fragments = decode_plaintext(crypto.unseal(master_key, sealed))
        vault = UnlockedVault(self.path, master_key, sealed.header, entries, generation=generation,
                              fragments=fragments)
        vault._remember(data)
        return vault


class UnlockedVault(PersistedVault):
    """An unlocked vault: entries in memory, the master key, and the file it came from.

    Entries returned by the methods below are the vault's own objects: read them, but change them only
    through :meth:`update`, :meth:`bind_origin` and friends, which persist the change.
    """

    # ---- reading -------------------------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """All entries, in the order they were added (picks up another process's saves)."""
        with self._mutex:
            self._reload_if_changed(thorough=False)
            return list(self._entries)

    def entries_for_origin(self, origin: Origin | str) -> list[Entry]:
        """Entries bound to exactly ``origin`` (scheme, host and port). Raises InvalidOrigin for a bad string."""
        wanted = Origin.parse(origin)
        if wanted.opaque:
            return []
        with self._mutex:
            self._reload_if_changed(thorough=False)
            return list(self._by_origin.get(wanted.serialized, ()))

    def get(self, id_or_name: str) -> Entry:
        """The entry with this id, or the one entry whose label, issuer or account is this name.

        Tried in order: exact id, label (``issuer:account``), issuer or account, id prefix (4+ characters);
        names compare case-insensitively. Raises EntryNotFound or AmbiguousEntry.
        """
        if not isinstance(id_or_name, str) or not id_or_name:
            raise BadRequest("an entry id or name is required")
        with self._mutex:
            self._reload_if_changed(thorough=False)
            if id_or_name in self._by_id:
                return self._by_id[id_or_name]
            wanted = id_or_name.casefold()
            tiers: list[Callable[[Entry], bool]] = [
                lambda e: e.label.casefold() == wanted,
                lambda e: wanted in (e.issuer.casefold(), e.account.casefold()),
                lambda e: len(wanted) >= 4 and e.id.startswith(wanted),
            ]
            for matches in tiers:
                found = [e for e in self._entries if matches(e)]
                if len(found) == 1:
                    return found[0]
                if found:
                    raise AmbiguousEntry(
                        f"{len(found)} entries match {id_or_name!r}; use one of the ids: "
                        + ", ".join(e.id for e in found[:5])
                    )
            raise EntryNotFound(f"no entry has the id or name {id_or_name!r}")

    def _by_exact_id(self, entry_id: str) -> Entry:
        if not isinstance(entry_id, str) or entry_id not in self._by_id:
            raise EntryNotFound(f"no entry has the id {entry_id!r}")
        return self._by_id[entry_id]

    def _check_origin(self, entry: Entry, origin: Origin | None) -> None:
        if origin is None:
            return  # the local CLI user, or the extension's own popup: no page involved
        if origin.opaque or origin.serialized not in entry.origins:
            raise OriginNotAllowed(f"the entry {entry.label!r} is not bound to {origin}")

    # ---- codes ---------------------------------------------------------------------------------------

    def code(self, entry_id: str, origin: Origin | str | None, now: float | None = None) -> tuple[str, int]:
        """``(code, seconds left)`` for the entry; HOTP advances and saves the counter (seconds left 0).

        ``origin`` is the requesting page's origin and must be bound to the entry (exact match);
        None only for the local user. Raises EntryNotFound, OriginNotAllowed, InvalidOrigin.
        """
        from . import otp

        page = None if origin is None else Origin.parse(origin)
        with self._mutex:
            self._reload_if_changed(thorough=False)
            entry = self._by_exact_id(entry_id)
            self._check_origin(entry, page)
            at = time.time() if now is None else float(now)
            if entry.kind == "hotp":
                return self._mutate(lambda: self._next_hotp(entry_id)), 0
            key = otp.secret_bytes(entry.secret)
            if entry.kind == "steam":
                value = otp.steam(key, at)
            else:
                value = otp.totp(key, at, digits=entry.digits, period=entry.period, algorithm=entry.algorithm)
            if entry.last_used is None or time.time() - entry.last_used >= LAST_USED_GRANULARITY:
                self._mutate(lambda: self._touch(entry_id))
            return value, otp.seconds_left(at, entry.period)

    def _touch(self, entry_id: str) -> None:
        entry = self._by_exact_id(entry_id)
        entry.last_used = time.time()
        self._fragments[entry_id] = entry_json(entry)

    def _next_hotp(self, entry_id: str) -> str:
        from . import otp

        entry = self._by_exact_id(entry_id)  # re-fetched: the reload under the lock may have replaced it
        value = otp.hotp(otp.secret_bytes(entry.secret), entry.counter, digits=entry.digits, algorithm=entry.algorithm)
        entry.counter += 1
        entry.last_used = time.time()
        self._fragments[entry_id] = entry_json(entry)
        return value

    def take_backup_code(self, entry_id: str, origin: Origin | str | None) -> tuple[str, int]:
        """The entry's next unused backup code, marked used and saved: ``(code, remaining unused)``."""
        page = None if origin is None else Origin.parse(origin)

        def take() -> tuple[str, int]:
            entry = self._by_exact_id(entry_id)
            self._check_origin(entry, page)
            unused = [c for c in entry.backup_codes if not c.get("used")]
            if not unused:
                raise VaultError(f"the entry {entry.label!r} has no unused backup codes left")
            unused[0]["used"] = True
            entry.last_used = time.time()
            self._fragments[entry_id] = entry_json(entry)
            return str(unused[0]["code"]), len(unused) - 1

        with self._mutex:
            self._reload_if_changed(thorough=False)
            self._check_origin(self._by_exact_id(entry_id), page)  # refuse before taking the lock
            return self._mutate(take)

    # ---- mutations -----------------------------------------------------------------------------------

    def _prepared(self, entry: Entry) -> Entry:
        if not isinstance(entry, Entry):
            raise BadRequest("expected an Entry")
        fresh = Entry.from_dict(entry.to_dict())  # a private, validated copy
        fresh.origins = normalized_origins(fresh.origins)
        fresh.backup_codes = checked_backup_codes(fresh.backup_codes)
        return _within_caps(with_exact_types(fresh))

    def add(self, entry: Entry) -> Entry:
        """Add ``entry`` (origins normalised; a colliding id is replaced by a fresh one) and save."""
        return self.add_many([entry])[0]

    def add_many(self, entries: Iterable[Entry]) -> list[Entry]:
        """Add several entries with one save; all or nothing."""
        prepared = [self._prepared(e) for e in entries]

        def add() -> list[Entry]:
            taken = set(self._by_id)
            for entry in prepared:
                if entry.id in taken:
                    entry.id = new_entry_id()
                taken.add(entry.id)
            for entry in prepared:
                self._entries.append(entry)
                self._by_id[entry.id] = entry
                self._fragments[entry.id] = entry_json(entry)
                for origin in entry.origins:
                    self._by_origin.setdefault(origin, []).append(entry)
            return prepared

        return self._mutate(add)

    def update(self, entry_id: str, **fields: Any) -> Entry:
        """Change fields of an entry (issuer, account, origins, note, backup_codes, ...) and save."""
        unknown = set(fields) - EDITABLE_FIELDS
        if unknown:
            raise BadRequest(f"cannot change {', '.join(sorted(unknown))} of an entry")
        for name in ("issuer", "account", "note"):
            if name in fields and not isinstance(fields[name], str):
                raise BadRequest(f"{name} must be a string")
        if "origins" in fields:
            fields["origins"] = normalized_origins(fields["origins"])
        if "backup_codes" in fields:
            fields["backup_codes"] = checked_backup_codes(fields["backup_codes"])

        def apply() -> Entry:
            current = self._by_exact_id(entry_id)
            try:
                updated = Entry.from_dict({**current.to_dict(), **fields})
            except TypeError as exc:
                raise BadRequest(f"invalid entry field: {exc}") from None
            self._replace(current, _within_caps(with_exact_types(updated)))
            return updated

        return self._mutate(apply)

    def _replace(self, current: Entry, updated: Entry) -> None:
        self._entries[self._entries.index(current)] = updated
        self._by_id[updated.id] = updated
        self._fragments[updated.id] = entry_json(updated)
        self._reindex()

    def bind_origin(self, entry_id: str, origin: Origin | str) -> Entry:
        """Bind one more origin to the entry (no-op if already bound) and save."""
        wanted = normalized_origins([origin])[0]

        def bind() -> Entry:
            current = self._by_exact_id(entry_id)
            if wanted in current.origins:
                return current
            updated = Entry.from_dict({**current.to_dict(), "origins": [*current.origins, wanted]})
            self._replace(current, _within_caps(updated))
            return updated

        return self._mutate(bind)

    def remove(self, entry_id: str) -> None:
        """Delete the entry and save."""

        def drop() -> None:
            entry = self._by_exact_id(entry_id)
            self._entries.remove(entry)
            del self._by_id[entry_id], self._fragments[entry_id]
            self._reindex()

        self._mutate(drop)

    def change_password(self, old: str, new: str) -> list[str]:
        """Rotate the master key: a new key, the database re-encrypted, a password slot for ``new`` (same KDF
        and cost, fresh salt), and the backup replaced, so no file opens with ``old`` any more.

        Raises WrongPassword for ``old``. Returns the slots that had to be dropped (see
        :func:`crypto.rotate_master_key`). Other processes holding the old key find the vault locked.
        """
        from . import crypto

        _check_password(old)
        _check_password(new)
        with self._mutex:
            self._master_key()
            with store.file_lock(self.path):
                self._reload_if_changed(thorough=True)
                rotated = crypto.rotate_master_key(self._header["slots"], self._master_key(), old, new)
                previous_key, previous_header = self._key, self._header
                self._key, self._header = bytearray(rotated.master_key), {**self._header, "slots": rotated.slots}
                try:
                    self._write(backup_is_new=True)
                except BaseException:
                    self._key, self._header = previous_key, previous_header
                    self._signature = self._file_bytes = None  # re-read before the next change
                    raise
                if previous_key is not None:
                    previous_key[:] = bytes(len(previous_key))
        return rotated.dropped

    # ---- security-key slots ---------------------------------------------------------------------------

    def key_slots(self) -> list[dict[str, Any]]:
        """The security-key (fido2-prf) slots, as stored (read them; change them through the methods below)."""
        from .format import SLOT_FIDO2_PRF

        with self._mutex:
            self._reload_if_changed(thorough=False)
            return [s for s in self._header["slots"] if s.get("type") == SLOT_FIDO2_PRF]

    def slot_count(self) -> int:
        """How many key slots of any type the vault has (format.MAX_SLOTS at most)."""
        with self._mutex:
            self._reload_if_changed(thorough=False)
            return len(self._header["slots"])

    def add_key_slot(self, *, credential_id: bytes, rp_id: str, salt: bytes, secret: bytes,
                     name: str) -> dict[str, Any]:
        """Wrap the master key for a security key's hmac-secret output ``secret`` (for ``salt``) and save."""
        from . import key_slot

        key_slot.checked_name(name)

        def add() -> dict[str, Any]:
            slots = self._header["slots"]
            key_slot.check_room(len(slots))
            if any(s.get("credential_id") == key_slot.b64e(credential_id) for s in slots):
                raise BadRequest("this credential already has a key slot")
            slot = key_slot.make_key_slot(self._master_key(), credential_id=credential_id, rp_id=rp_id,
                                          salt=salt, prf_output=secret, name=name)
            self._header = {**self._header, "slots": [*slots, slot]}
            return slot

        return self._mutate(add)

    def remove_key_slot(self, slot_id: str) -> dict[str, Any]:
        """Remove the security-key slot with this id (or a unique id prefix of 4+ characters) and save.
        The password slots stay: a vault always opens with its password."""
        from .key_slot import NoKeySlot

        if not isinstance(slot_id, str) or len(slot_id) < 4:
            raise BadRequest("give the key slot's id (at least its first 4 characters; see `vault key list`)")

        def remove() -> dict[str, Any]:
            matches = [s for s in self.key_slots() if s["id"].startswith(slot_id.lower())]
            if len(matches) != 1:
                raise NoKeySlot(f"no security-key slot has the id {slot_id!r}" if not matches
                                else f"{len(matches)} key slots start with {slot_id!r}; give more of the id")
            self._header = {**self._header, "slots": [s for s in self._header["slots"] if s is not matches[0]]}
            return matches[0]

        return self._mutate(remove)

    # ---- export --------------------------------------------------------------------------------------

    def export_encrypted(self, path: str | os.PathLike[str], password: str, *, kdf_cost: str = "default") -> None:
        """Write a new vault file (own master key, own password) holding every entry. VaultExists if present."""
        entries = self.entries()
        target = VaultFile(path).create(password, kdf_cost=kdf_cost)
        try:
            target.add_many(entries)
        except BaseException:
            target.lock()
            Path(path).unlink(missing_ok=True)  # made just now (create refuses an existing file): no empty backup
            raise
        target.lock()

    def export_uris(self) -> list[str]:
        """Every entry as an ``otpauth://`` URI: plaintext secrets; the caller must have confirmed."""
        from .otpauth import entry_to_otpauth_uri

        return [entry_to_otpauth_uri(e) for e in self.entries()]

def _within_caps(entry: Entry) -> Entry:
    """``entry`` if it is within the size caps of ``entry.py``; BadRequest naming the field that is not."""
    reason = oversized_field(entry)
    if reason is not None:
        raise BadRequest(f"{reason}; nothing was saved")
    return entry
