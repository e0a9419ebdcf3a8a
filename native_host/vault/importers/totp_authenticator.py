"""TOTP Authenticator (com.authenticator.authservice2): encrypted backup and app-internal XML.

Backup: Base64 of AES-256-CBC (zero IV, PKCS#7) with key SHA-256(password); without a user password
the app uses the built-in password ``TotpAuthenticator``, which we try when none is given. The plaintext
is a JSON object whose only key is itself a JSON array of accounts. Secrets are hex (``"base": 16``).
We keep the stored digits and period; the app stores no algorithm, so it is SHA1.
"""

from __future__ import annotations

import json
from typing import Any

from ...errors import ImportFailed, ImportNeedsPassword, ImportWrongPassword
from ..entry import Entry
from ._common import (
    Collector,
    aes_cbc_open,
    b64decode,
    decode_text,
    expect,
    hex_decode,
    int_field,
    load_json,
    make_entry,
    sha256,
    text_field,
    wrong_password,
)
from ._xml import shared_preferences

FORMAT = "TOTP Authenticator"
BUILT_IN_PASSWORD = "TotpAuthenticator"


_BASE64_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n")
# The smallest real backup (one account) is well over two AES blocks; one block holds no account at all.
_SMALLEST_BACKUP = 32


def looks_like_backup(text: str) -> bool:
    """True when ``text`` is Base64 of whole AES blocks, as this app's backup is (no header to go by).

    Text that is merely Base64-ish (a word, a hex string) is not taken for an encrypted backup.
    """
    compact = "".join(text.split())
    if len(compact) % 4 or not set(compact) <= _BASE64_CHARACTERS:
        return False
    stripped = compact.rstrip("=")
    if "=" in stripped or len(compact) - len(stripped) > 2:
        return False  # padding only at the end, at most two
    size = len(compact) // 4 * 3 - (len(compact) - len(stripped))
    return size >= _SMALLEST_BACKUP and size % 16 == 0


def _account(item: Any) -> Entry:
    item = expect(item, dict, "account")
    base = int_field(item, "base", 16)
    raw = text_field(item, "key")
    if base == 16:
        secret: str | bytes = hex_decode(raw, "key")
    elif base == 32:
        secret = raw
    else:
        raise ImportFailed(f"unsupported secret encoding base {base}")
    return make_entry(
        secret=secret,
        issuer=text_field(item, "issuer"),
        account=text_field(item, "name"),
        digits=int_field(item, "digits", 6),
        period=int_field(item, "period", 30),
    )


def _decrypt(blob: bytes, password: str) -> list[Any]:
    plaintext = aes_cbc_open(sha256(password.encode("utf-8")), bytes(16), blob, FORMAT)
    try:
        outer = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise wrong_password(FORMAT) from None
    if not isinstance(outer, dict) or len(outer) != 1:
        raise ImportFailed("the decrypted TOTP Authenticator backup has an unknown layout")
    return expect(load_json(next(iter(outer)), FORMAT), list, "the account list")


def _collect(accounts: list[Any]) -> Collector:
    collector = Collector()
    for position, item in enumerate(accounts, start=1):
        collector.add(f"account {position}", lambda item=item: _account(item))
    return collector


def parse(data: bytes, password: str | None = None) -> Collector:
    """Read the Base64 backup (with ``password``, or the built-in one) or the internal XML."""
    if data.lstrip()[:1] == b"<":
        values = shared_preferences(data, FORMAT)
        if "STATIC_TOTP_CODES_LIST" not in values:
            raise ImportFailed("this is not TOTP Authenticator's XML: no STATIC_TOTP_CODES_LIST value")
        return _collect(expect(load_json(values["STATIC_TOTP_CODES_LIST"], FORMAT), list, "the account list"))
    blob = b64decode(decode_text(data, FORMAT), "the backup")
    if password is not None:
        return _collect(_decrypt(blob, password))
    try:
        return _collect(_decrypt(blob, BUILT_IN_PASSWORD))
    except ImportWrongPassword:
        raise ImportNeedsPassword(f"this {FORMAT} backup is protected by a password: give it") from None
