"""2FAS backups (``.2fas``), schema versions 1–4, plain and password-encrypted.

Encrypted: ``servicesEncrypted`` is ``base64(ciphertext+tag):base64(salt):base64(iv)``; the key is
PBKDF2-HMAC-SHA256(password, salt, 10 000 iterations, 256 bit) and the cipher AES-GCM. Schema 1 has no
OTP parameters (everything is TOTP SHA1/6/30); schema 2 has no token type (everything is TOTP).
"""

from __future__ import annotations

from typing import Any

from ...errors import ImportFailed
from ..entry import Entry
from ._common import (
    Collector,
    aes_gcm_open,
    b64decode,
    expect,
    get,
    int_field,
    load_json,
    make_entry,
    pbkdf2,
    require_password,
    text_field,
)

FORMAT = "2FAS"
ITERATIONS = 10_000
MAX_SCHEMA = 4
_KINDS = {"TOTP": "totp", "HOTP": "hotp", "STEAM": "steam"}


def _decrypt_services(doc: dict[str, Any], password: str) -> list[Any]:
    parts = expect(doc.get("servicesEncrypted"), str, "servicesEncrypted").split(":")
    if len(parts) != 3:
        raise ImportFailed("servicesEncrypted must have three parts (data:salt:iv)")
    ciphertext, salt, iv = (b64decode(p, "servicesEncrypted") for p in parts)
    key = pbkdf2(password, salt, ITERATIONS, "sha256")
    plaintext = aes_gcm_open(key, iv, ciphertext, FORMAT)
    return expect(load_json(plaintext, FORMAT), list, "the decrypted services")


def _service(item: Any) -> Entry:
    item = expect(item, dict, "service")
    otp = expect(item.get("otp") or {}, dict, "otp")
    token_type = text_field(otp, "tokenType").upper() or "TOTP"
    if token_type not in _KINDS:
        raise ImportFailed(f"unsupported token type {token_type!r}")
    return make_entry(
        secret=get(item, "secret", str),
        kind=_KINDS[token_type],
        issuer=text_field(item, "name") or text_field(otp, "issuer"),
        account=text_field(otp, "account") or text_field(otp, "label"),
        algo=otp.get("algorithm"),
        digits=int_field(otp, "digits", 6),
        period=int_field(otp, "period", 30),
        counter=int_field(otp, "counter", 0),
    )


def parse(data: bytes, password: str | None = None) -> Collector:
    """Read a 2FAS backup (plain, or encrypted with ``password``)."""
    doc = expect(load_json(data, FORMAT), dict, "the 2FAS file")
    schema = doc.get("schemaVersion")
    if not isinstance(schema, int) or isinstance(schema, bool) or not 1 <= schema <= MAX_SCHEMA:
        raise ImportFailed(f"unsupported 2FAS schema version {schema!r} (1 to {MAX_SCHEMA} are known)")
    if doc.get("servicesEncrypted"):
        services = _decrypt_services(doc, require_password(password, FORMAT))
    else:
        services = expect(doc.get("services"), list, "services")
    collector = Collector()
    for position, item in enumerate(services, start=1):
        collector.add(f"service {position}", lambda item=item: _service(item))
    return collector
