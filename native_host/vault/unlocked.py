"""``VaultFile`` (a path: create, unlock) and ``UnlockedVault`` (the entries, codes and every mutation).

Every mutation takes the cross-process lock, re-reads the file if another process changed it, applies
the change, writes atomically with a rolling backup, and releases the lock: two hosts never lose an entry.
A file that fails to decrypt or parse is never written over.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import (
    AmbiguousEntry,
    BadRequest,
    EntryNotFound,
    OriginNotAllowed,
    VaultCorrupt,
    VaultError,
    VaultExists,
    VaultLocked,
    VaultTampered,
)
from ..origins import normalize_origin
from . import store
from .entry import Entry, new_entry_id, oversized_field
from .format import build_vault, parse_vault

T = TypeVar("T")
PLAINTEXT_VERSION = 1
_FIELDS = tuple(Entry.__dataclass_fields__)
_FIELD_SET = frozenset(_FIELDS)
_TYPE_EXAMPLE: dict[str, Any] = {
    "secret": "A", "kind": "totp", "issuer": "", "account": "", "algorithm": "SHA1", "note": "", "id": "x",
    "digits": 6, "period": 30, "counter": 0, "origins": [], "backup_codes": [], "created": 0.0, "last_used": None,
}
# Fields update() may change; id and created are fixed for an entry's life.
EDITABLE_FIELDS = frozenset(_FIELDS) - {"id", "created"}
LAST_USED_GRANULARITY = 60.0  # seconds: a code request rewrites the file at most once a minute per entry


def _check_password(password: Any) -> str:
    if not isinstance(password, str) or not password:
        raise BadRequest("the password must be a non-empty string")
    return password


def _entry_json(entry: Entry) -> str:
    return json.dumps({name: getattr(entry, name) for name in _FIELDS}, ensure_ascii=False)


def _stat_signature(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


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
        entries, generation, fragments = _decode_plaintext(crypto.unseal(master_key, sealed))
        vault = UnlockedVault(self.path, master_key, sealed.header, entries, generation=generation,
                              fragments=fragments)
        vault._remember(data)
        return vault


def _decode_plaintext(plaintext: bytes) -> tuple[list[Entry], int, dict[str, str]]:
    """Entries, generation and reusable entry JSON from the decrypted database; VaultCorrupt if it does not parse.

    We write one entry per line (JSON strings never hold a raw newline), so the lines of a database we
    wrote are the entries' JSON, ready for the next save without serialising 10,000 entries again.
    """
    try:
        text = plaintext.decode("utf-8")
        doc = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise VaultCorrupt("the vault decrypted but its contents are not valid JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise VaultCorrupt("the vault's contents have no entry list")
    generation = doc.get("generation", 0)
    if type(generation) is not int:
        raise VaultCorrupt("the vault's generation is not a whole number")
    entries: list[Entry] = []
    seen: set[str] = set()
    trusted: list[bool] = []
    for position, item in enumerate(doc["entries"], start=1):
        if not isinstance(item, dict):
            raise VaultCorrupt(f"vault entry {position} is not an object")
        trusted.append(item.keys() == _FIELD_SET and _has_exact_types(item))
        try:
            entry = _trusted_entry(item) if trusted[-1] else _coerced(Entry.from_dict(item))
        except (VaultError, BadRequest, TypeError, ValueError) as exc:
            raise VaultCorrupt(f"vault entry {position} is invalid: {exc}") from None
        if not isinstance(entry.id, str) or entry.id in seen:
            raise VaultCorrupt(f"vault entry {position} has a missing or duplicate id")
        seen.add(entry.id)
        entries.append(entry)
    fragments: dict[str, str] = {}
    lines = text.split("\n")
    if len(lines) == len(entries) + 2 and lines[0].endswith('"entries":[') and lines[-1] == "]}":
        for entry, is_trusted, line in zip(entries, trusted, lines[1:-1], strict=True):
            line = line.removesuffix(",")
            if is_trusted and f'"id": {json.dumps(entry.id)}' in line:
                fragments[entry.id] = line
    return entries, generation, fragments


def _has_exact_types(item: dict[str, Any]) -> bool:
    """True when every field of a stored entry has exactly the type the vault writes."""
    return (
        all(type(item[name]) is str for name in ("secret", "kind", "issuer", "account", "algorithm", "note", "id"))
        and all(type(item[name]) is int for name in ("digits", "period", "counter"))
        and type(item["origins"]) is list
        and all(type(o) is str for o in item["origins"])
        and type(item["backup_codes"]) is list
        and all(type(c) is dict for c in item["backup_codes"])
        and type(item["created"]) in (int, float)
        and (item["last_used"] is None or type(item["last_used"]) in (int, float))
    )


def _coerced(entry: Entry) -> Entry:
    """Numbers stored as text or floats (an older or foreign writer) become the ints the codes need."""
    for name in ("digits", "period", "counter"):
        value = getattr(entry, name)
        if type(value) is not int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"{name} must be a whole number")
            setattr(entry, name, int(value))
    if isinstance(entry.created, str) or (entry.last_used is not None and isinstance(entry.last_used, str)):
        raise ValueError("created and last_used must be numbers")
    if not all(isinstance(getattr(entry, n), str) for n in ("issuer", "account", "note", "id")):
        raise ValueError("issuer, account, note and id must be text")
    entry.origins = _normalized_origins(entry.origins)
    entry.backup_codes = _checked_backup_codes(entry.backup_codes)
    return entry


def _trusted_entry(item: dict[str, Any]) -> Entry:
    """An Entry from an authenticated database we wrote, with exact types (see ``_has_exact_types``).

    Skips ``Entry.__post_init__`` (Base32 decoding and range checks: two thirds of an unlock at 10,000
    entries); the vault validated the entry when it saved it.
    """
    entry = object.__new__(Entry)
    entry.__dict__.update(item)
    return entry


def _checked(entry: Entry) -> Entry:
    """``entry`` if its fields have exactly the types the vault stores; BadRequest naming the first that does not.

    ``Entry`` accepts e.g. ``digits="6"``; storing that would make the file ambiguous to read back.
    """
    data = {name: getattr(entry, name) for name in _FIELDS}
    if not _has_exact_types(data):
        for name, value in data.items():
            expected = Entry.__dataclass_fields__[name].type
            if not _has_exact_types({**_TYPE_EXAMPLE, name: value}):
                raise BadRequest(f"the entry field {name!r} has the wrong type ({type(value).__name__}; {expected})")
        raise BadRequest("an entry field has the wrong type")
    return entry


class UnlockedVault:
    """An unlocked vault: entries in memory, the master key, and the file it came from.

    Entries returned by the methods below are the vault's own objects: read them, but change them only
    through :meth:`update`, :meth:`bind_origin` and friends, which persist the change.
    """

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
        self._fragments = {e.id: known.get(e.id) or _entry_json(e) for e in self._entries}
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
        entries, generation, fragments = _decode_plaintext(plaintext)
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
        plaintext = (
            f'{{"version":{PLAINTEXT_VERSION},"generation":{self._generation},"saved":{time.time()!r},"entries":[\n'
            + ",\n".join(self._fragments.values())  # kept in the order of self._entries; one per line
            + "\n]}"
        ).encode("utf-8")
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

    # ---- reading -------------------------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """All entries, in the order they were added (picks up another process's saves)."""
        with self._mutex:
            self._reload_if_changed(thorough=False)
            return list(self._entries)

    def entries_for_origin(self, origin: str) -> list[Entry]:
        """Entries bound to exactly ``origin`` (scheme, host and port). Raises InvalidOrigin."""
        wanted = normalize_origin(origin)
        with self._mutex:
            self._reload_if_changed(thorough=False)
            return list(self._by_origin.get(wanted, ()))

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

    def _check_origin(self, entry: Entry, origin: str | None) -> None:
        if origin is None:
            return  # the local CLI user, or the extension's own popup: no page involved
        if normalize_origin(origin) not in entry.origins:
            raise OriginNotAllowed(f"the entry {entry.label!r} is not bound to {normalize_origin(origin)}")

    # ---- codes ---------------------------------------------------------------------------------------

    def code(self, entry_id: str, origin: str | None, now: float | None = None) -> tuple[str, int]:
        """``(code, seconds left)`` for the entry; HOTP advances and saves the counter (seconds left 0).

        ``origin`` is the requesting page's origin and must be bound to the entry (exact match);
        None only for the local user. Raises EntryNotFound, OriginNotAllowed, InvalidOrigin.
        """
        from . import otp

        with self._mutex:
            self._reload_if_changed(thorough=False)
            entry = self._by_exact_id(entry_id)
            self._check_origin(entry, origin)
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
        self._fragments[entry_id] = _entry_json(entry)

    def _next_hotp(self, entry_id: str) -> str:
        from . import otp

        entry = self._by_exact_id(entry_id)  # re-fetched: the reload under the lock may have replaced it
        value = otp.hotp(otp.secret_bytes(entry.secret), entry.counter, digits=entry.digits, algorithm=entry.algorithm)
        entry.counter += 1
        entry.last_used = time.time()
        self._fragments[entry_id] = _entry_json(entry)
        return value

    def take_backup_code(self, entry_id: str, origin: str | None) -> tuple[str, int]:
        """The entry's next unused backup code, marked used and saved: ``(code, remaining unused)``."""

        def take() -> tuple[str, int]:
            entry = self._by_exact_id(entry_id)
            self._check_origin(entry, origin)
            unused = [c for c in entry.backup_codes if not c.get("used")]
            if not unused:
                raise VaultError(f"the entry {entry.label!r} has no unused backup codes left")
            unused[0]["used"] = True
            entry.last_used = time.time()
            self._fragments[entry_id] = _entry_json(entry)
            return str(unused[0]["code"]), len(unused) - 1

        with self._mutex:
            self._reload_if_changed(thorough=False)
            self._check_origin(self._by_exact_id(entry_id), origin)  # refuse before taking the lock
            return self._mutate(take)

    # ---- mutations -----------------------------------------------------------------------------------

    def _prepared(self, entry: Entry) -> Entry:
        if not isinstance(entry, Entry):
            raise BadRequest("expected an Entry")
        fresh = Entry.from_dict(entry.to_dict())  # a private, validated copy
        fresh.origins = _normalized_origins(fresh.origins)
        fresh.backup_codes = _checked_backup_codes(fresh.backup_codes)
        return _within_caps(_checked(fresh))

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
                self._fragments[entry.id] = _entry_json(entry)
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
            fields["origins"] = _normalized_origins(fields["origins"])
        if "backup_codes" in fields:
            fields["backup_codes"] = _checked_backup_codes(fields["backup_codes"])

        def apply() -> Entry:
            current = self._by_exact_id(entry_id)
            try:
                updated = Entry.from_dict({**current.to_dict(), **fields})
            except TypeError as exc:
                raise BadRequest(f"invalid entry field: {exc}") from None
            self._replace(current, _within_caps(_checked(updated)))
            return updated

        return self._mutate(apply)

    def _replace(self, current: Entry, updated: Entry) -> None:
        self._entries[self._entries.index(current)] = updated
        self._by_id[updated.id] = updated
        self._fragments[updated.id] = _entry_json(updated)
        self._reindex()

    def bind_origin(self, entry_id: str, origin: str) -> Entry:
        """Bind one more origin to the entry (no-op if already bound) and save."""
        wanted = normalize_origin(origin)

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

    # ---- export --------------------------------------------------------------------------------------

    def export_encrypted(self, path: str | os.PathLike[str], password: str, *, kdf_cost: str = "default") -> None:
        """Write a new vault file (own master key, own password) holding every entry. VaultExists if present."""
        entries = self.entries()
        target = VaultFile(path).create(password, kdf_cost=kdf_cost)
        try:
            target.add_many(entries)
        finally:
            target.lock()

    def export_uris(self) -> list[str]:
        """Every entry as an ``otpauth://`` URI: plaintext secrets; the caller must have confirmed."""
        from .otpauth import entry_to_otpauth_uri

        return [entry_to_otpauth_uri(e) for e in self.entries()]

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


def _normalized_origins(origins: Any) -> list[str]:
    if not isinstance(origins, list | tuple) or not all(isinstance(o, str) for o in origins):
        raise BadRequest("origins must be a list of strings")
    result: list[str] = []
    for origin in origins:
        canonical = normalize_origin(origin)
        if canonical not in result:
            result.append(canonical)
    return result


def _within_caps(entry: Entry) -> Entry:
    """``entry`` if it is within the size caps of ``entry.py``; BadRequest naming the field that is not."""
    reason = oversized_field(entry)
    if reason is not None:
        raise BadRequest(f"{reason}; nothing was saved")
    return entry


def _checked_backup_codes(codes: Any) -> list[dict[str, Any]]:
    if not isinstance(codes, list | tuple):
        raise BadRequest("backup_codes must be a list")
    result = []
    for item in codes:
        if isinstance(item, str):
            item = {"code": item, "used": False}
        if not isinstance(item, dict) or not isinstance(item.get("code"), str) or not item["code"].strip():
            raise BadRequest("each backup code must be a non-empty string or {'code': str, 'used': bool}")
        result.append({"code": item["code"].strip(), "used": bool(item.get("used", False))})
    return result
