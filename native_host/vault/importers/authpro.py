"""Authenticator Pro (now Stratum) backups: plain JSON, encrypted, and the legacy encrypted format.

Current: ``AUTHENTICATORPRO`` | 16-byte salt | 12-byte IV | AES-256-GCM ciphertext+tag, key
Argon2id(t=3, m=64 MiB, p=4). Legacy: ``AuthenticatorPro`` | 20-byte salt | 16-byte IV | AES-256-CBC,
key PBKDF2-HMAC-SHA1(64 000 iterations).
"""

from __future__ import annotations

from typing import Any

from ...errors import ImportFailed
from ..entry import Entry
from ._common import (
    Collector,
    aes_cbc_open,
    aes_gcm_open,
    expect,
    get,
    int_field,
    load_json,
    make_entry,
    pbkdf2,
    require_password,
    text_field,
    wrong_password,
)

FORMAT = "Authenticator Pro"
HEADER = b"AUTHENTICATORPRO"
LEGACY_HEADER = b"AuthenticatorPro"
_KINDS = {1: "hotp", 2: "totp", 4: "steam"}  # 3 = mOTP, 5 = Yandex: not supported
_ALGORITHMS = {0: "SHA1", 1: "SHA256", 2: "SHA512"}


def _argon2id(password: str, salt: bytes) -> bytes:
    try:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
    except ImportError:  # cryptography < 44
        raise ImportFailed("reading encrypted Authenticator Pro backups needs cryptography 44 or newer") from None
    return Argon2id(salt=salt, length=32, iterations=3, lanes=4, memory_cost=65536).derive(password.encode("utf-8"))


_SMALLEST_BODY = 16 + 12 + 16  # salt, IV, GCM tag
_SMALLEST_LEGACY_BODY = 20 + 16 + 16  # salt, IV, one AES block


def _check_length(data: bytes) -> None:
    """A truncated backup is named as such before any password is asked for."""
    smallest = _SMALLEST_BODY if data.startswith(HEADER) else _SMALLEST_LEGACY_BODY
    if len(data) - len(HEADER) < smallest:
        raise ImportFailed("this Authenticator Pro backup is truncated")


def _decrypt(data: bytes, password: str) -> bytes:
    if data.startswith(HEADER):
        body = data[len(HEADER) :]
        return aes_gcm_open(_argon2id(password, body[:16]), body[16:28], body[28:], FORMAT)
    body = data[len(LEGACY_HEADER) :]
    plaintext = aes_cbc_open(pbkdf2(password, body[:20], 64_000, "sha1"), body[20:36], body[36:], FORMAT)
    if not plaintext.lstrip().startswith(b"{"):
        raise wrong_password(FORMAT)  # CBC has no tag: garbage that happened to unpad is still a wrong password
    return plaintext


def _authenticator(item: Any) -> Entry:
    item = expect(item, dict, "authenticator")
    type_code = get(item, "Type", int)
    if type_code not in _KINDS:
        raise ImportFailed(f"unsupported authenticator type {type_code} (only TOTP, HOTP and Steam)")
    algorithm_code = int_field(item, "Algorithm", 0)
    if algorithm_code not in _ALGORITHMS:
        raise ImportFailed(f"unknown algorithm code {algorithm_code}")
    return make_entry(
        secret=get(item, "Secret", str),
        kind=_KINDS[type_code],
        issuer=text_field(item, "Issuer"),
        account=text_field(item, "Username"),
        algo=_ALGORITHMS[algorithm_code],
        digits=int_field(item, "Digits", 6),
        period=int_field(item, "Period", 30),
        counter=int_field(item, "Counter", 0),
    )


def is_encrypted(data: bytes) -> bool:
    """True for both encrypted layouts (they start with a fixed ASCII header)."""
    return data.startswith(HEADER) or data.startswith(LEGACY_HEADER)


def parse(data: bytes, password: str | None = None) -> Collector:
    """Read an Authenticator Pro backup (plain, or encrypted with ``password``)."""
    if is_encrypted(data):
        _check_length(data)
        data = _decrypt(data, require_password(password, FORMAT))
    doc = expect(load_json(data, FORMAT), dict, "the Authenticator Pro backup")
    collector = Collector()
    for position, item in enumerate(expect(doc.get("Authenticators"), list, "Authenticators"), start=1):
        collector.add(f"authenticator {position}", lambda item=item: _authenticator(item))
    return collector
