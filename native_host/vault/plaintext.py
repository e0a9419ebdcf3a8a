"""The vault's plaintext model: what the decrypted database holds and how each entry in it is validated.

The database is JSON, one entry per line (JSON strings never hold a raw newline), so the lines of a
database we wrote are the entries' JSON, reused at the next save without serialising 10,000 entries again.
No I/O and no keys here: ``unlocked.py`` holds the operations (locking, reading, writing, codes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from ..errors import BadRequest, InvalidOrigin, VaultCorrupt, VaultError
from ..origins import Origin, normalize_origin
from .entry import Entry

PLAINTEXT_VERSION = 1
FIELDS = tuple(Entry.__dataclass_fields__)
_FIELD_SET = frozenset(FIELDS)
_TYPE_EXAMPLE: dict[str, Any] = {
    "secret": "A", "kind": "totp", "issuer": "", "account": "", "algorithm": "SHA1", "note": "", "id": "x",
    "digits": 6, "period": 30, "counter": 0, "origins": [], "backup_codes": [], "created": 0.0, "last_used": None,
}
# Fields update() may change; id and created are fixed for an entry's life.
EDITABLE_FIELDS = frozenset(FIELDS) - {"id", "created"}


def entry_json(entry: Entry) -> str:
    """One entry as the single line of JSON the database stores."""
    return json.dumps({name: getattr(entry, name) for name in FIELDS}, ensure_ascii=False)


def encode_plaintext(generation: int, fragments: Iterable[str]) -> bytes:
    """The database for ``fragments`` (entry lines from :func:`entry_json`), in the order given."""
    return (
        f'{{"version":{PLAINTEXT_VERSION},"generation":{generation},"saved":{time.time()!r},"entries":[\n'
        + ",\n".join(fragments)
        + "\n]}"
    ).encode("utf-8")


def decode_plaintext(plaintext: bytes) -> tuple[list[Entry], int, dict[str, str]]:
    """Entries, generation and reusable entry lines (by id) of a decrypted database; VaultCorrupt if it does
    not parse."""
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
        trusted.append(item.keys() == _FIELD_SET and has_exact_types(item))
        try:
            entry = _trusted_entry(item) if trusted[-1] else _coerced(Entry.from_dict(item))
        except (VaultError, BadRequest, TypeError, ValueError) as exc:
            raise VaultCorrupt(f"vault entry {position} is invalid: {exc}") from None
        if not isinstance(entry.id, str) or entry.id in seen:
            raise VaultCorrupt(f"vault entry {position} has a missing or duplicate id")
        seen.add(entry.id)
        entries.append(entry)
    return entries, generation, _reusable_lines(text, entries, trusted)


def _reusable_lines(text: str, entries: list[Entry], trusted: list[bool]) -> dict[str, str]:
    fragments: dict[str, str] = {}
    lines = text.split("\n")
    if len(lines) == len(entries) + 2 and lines[0].endswith('"entries":[') and lines[-1] == "]}":
        for entry, is_trusted, line in zip(entries, trusted, lines[1:-1], strict=True):
            line = line.removesuffix(",")
            if is_trusted and f'"id": {json.dumps(entry.id)}' in line:
                fragments[entry.id] = line
    return fragments


def has_exact_types(item: dict[str, Any]) -> bool:
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
    entry.origins = normalized_origins(entry.origins)
    entry.backup_codes = checked_backup_codes(entry.backup_codes)
    return entry


def _trusted_entry(item: dict[str, Any]) -> Entry:
    """An Entry from an authenticated database we wrote, with exact types (see ``has_exact_types``).

    Skips ``Entry.__post_init__`` (Base32 decoding and range checks: two thirds of an unlock at 10,000
    entries); the vault validated the entry when it saved it.
    """
    entry = object.__new__(Entry)
    entry.__dict__.update(item)
    return entry


def with_exact_types(entry: Entry) -> Entry:
    """``entry`` if its fields have exactly the types the vault stores; BadRequest naming the first that does not.

    ``Entry`` accepts e.g. ``digits="6"``; storing that would make the file ambiguous to read back.
    """
    data = {name: getattr(entry, name) for name in FIELDS}
    if not has_exact_types(data):
        for name, value in data.items():
            expected = Entry.__dataclass_fields__[name].type
            if not has_exact_types({**_TYPE_EXAMPLE, name: value}):
                raise BadRequest(f"the entry field {name!r} has the wrong type ({type(value).__name__}; {expected})")
        raise BadRequest("an entry field has the wrong type")
    return entry


def normalized_origins(origins: Any) -> list[str]:
    """Canonical origins (an :class:`Origin` is already canonical), duplicates dropped, order kept."""
    if not isinstance(origins, list | tuple) or not all(isinstance(o, str | Origin) for o in origins):
        raise BadRequest("origins must be a list of strings")
    result: list[str] = []
    for origin in origins:
        if isinstance(origin, Origin) and origin.opaque:
            raise InvalidOrigin("an opaque origin cannot be bound to an entry")
        canonical = origin.serialized if isinstance(origin, Origin) else normalize_origin(origin)
        if canonical not in result:
            result.append(canonical)
    return result


def checked_backup_codes(codes: Any) -> list[dict[str, Any]]:
    """Backup codes as the vault stores them: ``{"code": str, "used": bool}`` (a bare string is unused)."""
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
