"""Aegis vault exports, plain and password-encrypted (vault version 1, database versions 1–3).

Encrypted: the master key is wrapped in password slots (scrypt → AES-256-GCM); the database is
AES-256-GCM under the master key. Slot and database nonces/tags are hex in the header.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ...errors import ImportFailed
from ..entry import Entry
from ._common import (
    Collector,
    aes_gcm_open,
    b64decode,
    expect,
    get,
    hex_decode,
    int_field,
    load_json,
    make_entry,
    require_password,
    scrypt,
    text_field,
    wrong_password,
)

FORMAT = "Aegis"
PASSWORD_SLOT = 1
# Aegis writes one password slot plus one per enrolled biometric key; each password slot tried costs a KDF run.
MAX_SLOTS = 16
MAX_PASSWORD_SLOTS = 4


def _scrypt_key(password: str, slot: dict[str, Any]) -> bytes:
    n, r, p = (int_field(slot, k, 0) for k in ("n", "r", "p"))
    return scrypt(password, hex_decode(slot.get("salt"), "slot salt"), n, r, p, FORMAT)


def _master_key(header: dict[str, Any], password: str) -> bytes:
    slots = expect(header.get("slots"), list, "header.slots")
    if len(slots) > MAX_SLOTS:
        raise ImportFailed(f"this Aegis file has {len(slots)} key slots; more than {MAX_SLOTS} is not an Aegis export")
    password_slots = [s for s in slots if isinstance(s, dict) and s.get("type") == PASSWORD_SLOT]
    if not password_slots:
        raise ImportFailed("this Aegis file has no password slot (only biometric or raw keys)")
    if len(password_slots) > MAX_PASSWORD_SLOTS:
        raise ImportFailed(
            f"this Aegis file has {len(password_slots)} password slots; at most {MAX_PASSWORD_SLOTS} are tried"
        )
    for slot in password_slots:
        params = expect(slot.get("key_params"), dict, "slot key_params")
        nonce = hex_decode(params.get("nonce"), "slot nonce")
        wrapped = hex_decode(slot.get("key"), "slot key") + hex_decode(params.get("tag"), "slot tag")
        if len(nonce) != 12 or len(wrapped) != 48:
            raise ImportFailed("the password slot is damaged (wrong key or nonce length)")
        try:
            return AESGCM(_scrypt_key(password, slot)).decrypt(nonce, wrapped, None)
        except InvalidTag:
            continue
    raise wrong_password(FORMAT)


def _database(doc: dict[str, Any], password: str | None) -> dict[str, Any]:
    header = expect(doc.get("header"), dict, "header")
    if header.get("slots") is None and header.get("params") is None:
        return expect(doc.get("db"), dict, "db")
    password = require_password(password, FORMAT)
    params = expect(header.get("params"), dict, "header.params")
    key = _master_key(header, password)
    nonce = hex_decode(params.get("nonce"), "database nonce")
    ciphertext = b64decode(expect(doc.get("db"), str, "db"), "db") + hex_decode(params.get("tag"), "database tag")
    return expect(load_json(aes_gcm_open(key, nonce, ciphertext, FORMAT), FORMAT), dict, "decrypted database")


def _entry(item: Any) -> Entry:
    item = expect(item, dict, "entry")
    info = expect(item.get("info"), dict, "entry info")
    kind = text_field(item, "type").lower()
    note = text_field(item, "note")
    return make_entry(
        secret=get(info, "secret", str),
        kind=kind,
        issuer=text_field(item, "issuer"),
        account=text_field(item, "name"),
        algo=info.get("algo"),
        digits=int_field(info, "digits", 6),
        period=int_field(info, "period", 30),
        counter=int_field(info, "counter", 0),
        note=note,
    )


def parse(data: bytes, password: str | None = None) -> Collector:
    """Read an Aegis export (plain, or encrypted with ``password``)."""
    doc = expect(load_json(data, FORMAT), dict, "the Aegis file")
    version = doc.get("version")
    if version != 1:
        raise ImportFailed(f"unsupported Aegis vault version {version!r} (only 1 is known)")
    db = _database(doc, password)
    db_version = db.get("version")
    if not isinstance(db_version, int) or not 1 <= db_version <= 3:
        raise ImportFailed(f"unsupported Aegis database version {db_version!r} (1 to 3 are known)")
    collector = Collector()
    for position, item in enumerate(expect(db.get("entries"), list, "db.entries"), start=1):
        collector.add(f"entry {position}", lambda item=item: _entry(item))
    return collector
