"""andOTP backups: plain JSON, and both encrypted formats.

Current encrypted format: 4-byte big-endian PBKDF2 iteration count | 12-byte salt | 12-byte nonce |
AES-GCM ciphertext+tag, key PBKDF2-HMAC-SHA1. Old format: 12-byte nonce | ciphertext+tag, key
SHA-256(password). Neither has a magic header; the current format is tried first.

Recognising a file (``auto``) needs the current format's header as andOTP writes it: an iteration count
between 140,000 and 160,000 (andOTP's ``PBKDF2_MIN/MAX_BACKUP_ITERATIONS``) and room for salt, nonce, tag
and at least ``[]``. The old format is random bytes from its first byte; andOTP itself makes the user pick
"old format" to restore one, and so do we (``--format andotp``, or the app's file name ``.json.aes``).
"""

from __future__ import annotations

from typing import Any

from ...errors import ImportFailed, ImportWrongPassword
from ..entry import Entry
from ._common import (
    MAX_PBKDF2_ITERATIONS,
    Collector,
    aes_gcm_open,
    expect,
    get,
    int_field,
    load_json,
    make_entry,
    pbkdf2,
    require_password,
    sha256,
    text_field,
    wrong_password,
)

FORMAT = "andOTP"
ENCRYPTED_SUFFIX = ".json.aes"  # andOTP's otp_accounts[_<date>].json.aes, both encrypted formats
WRITTEN_ITERATIONS = range(140_000, 160_001)  # what andOTP's backup writes, not what we can read
_HEADER = 4 + 12 + 12  # iteration count, salt, nonce
_SMALLEST_CURRENT = _HEADER + len(b"[]") + 16  # + the GCM tag
_SMALLEST_OLD = 12 + 16  # nonce and GCM tag
_KINDS = {"TOTP": "totp", "HOTP": "hotp", "STEAM": "steam"}


def _decrypt(data: bytes, password: str) -> bytes:
    if len(data) >= 4 + 12 + 12 + 16:
        iterations = int.from_bytes(data[:4], "big")
        if 1 <= iterations <= MAX_PBKDF2_ITERATIONS:  # else the old format, whose first bytes are a random nonce
            key = pbkdf2(password, data[4:16], iterations, "sha1")
            try:
                return aes_gcm_open(key, data[16:28], data[28:], FORMAT)
            except ImportWrongPassword:
                pass  # maybe the old format, whose first bytes are a random nonce
    try:
        return aes_gcm_open(sha256(password.encode("utf-8")), data[:12], data[12:], FORMAT)
    except ImportWrongPassword:
        raise wrong_password(FORMAT) from None


def _entry(item: Any) -> Entry:
    item = expect(item, dict, "entry")
    token_type = text_field(item, "type").upper() or "TOTP"
    if token_type not in _KINDS:
        raise ImportFailed(f"unsupported token type {token_type!r}")
    issuer = text_field(item, "issuer")
    account = text_field(item, "label")
    if "issuer" not in item and " - " in account:
        # Old andOTP versions had no issuer field and wrote "Issuer - label".
        issuer, account = (part.strip() for part in account.split(" - ", 1))
    return make_entry(
        secret=get(item, "secret", str),
        kind=_KINDS[token_type],
        issuer=issuer,
        account=account,
        algo=item.get("algorithm"),
        digits=int_field(item, "digits", 6),
        period=int_field(item, "period", 30),
        counter=int_field(item, "counter", 0),
    )


def has_current_header(data: bytes) -> bool:
    """True when ``data`` starts as andOTP writes an encrypted backup today (see the module docstring)."""
    return len(data) >= _SMALLEST_CURRENT and int.from_bytes(data[:4], "big") in WRITTEN_ITERATIONS


def is_plain(data: bytes) -> bool:
    """A plain andOTP backup is a JSON array in UTF-8 text.

    An encrypted one starts with random bytes, which may well be ``[``; its bytes are not valid UTF-8
    (random data of backup size practically never is), so the text check tells them apart.
    """
    if data.lstrip()[:1] != b"[":
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse(data: bytes, password: str | None = None) -> Collector:
    """Read an andOTP backup: plain JSON, or encrypted (current or old format) with ``password``."""
    if not is_plain(data):
        if len(data) < _SMALLEST_OLD:  # said before any password is asked for
            raise ImportFailed("this andOTP file is too short to be an encrypted backup")
        data = _decrypt(data, require_password(password, FORMAT))
    items = expect(load_json(data, FORMAT), list, "the andOTP backup")
    collector = Collector()
    for position, item in enumerate(items, start=1):
        collector.add(f"entry {position}", lambda item=item: _entry(item))
    return collector
