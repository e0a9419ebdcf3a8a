"""Authy's app-internal token store (``com.authy.storage.tokens.authenticator.xml``; needs root).

Secrets are either in clear (``decryptedSecret``, Base32) or encrypted with the backup password:
PBKDF2-HMAC-SHA1(password, salt text, 1000 iterations, 256 bit), AES-256-CBC with a zero IV, PKCS#7;
the plaintext is the Base32 secret. Authy keeps only the digit count: algorithm SHA1, period 30 s
(10 s for Authy's own tokens).
"""

from __future__ import annotations

import json
from typing import Any

from ...errors import ImportFailed, InvalidSecret
from ..entry import Entry, normalize_secret
from ._common import (
    Collector,
    aes_cbc_open,
    b64decode,
    expect,
    get,
    int_field,
    make_entry,
    pbkdf2,
    require_password,
    text_field,
    wrong_password,
)
from ._xml import shared_preferences

FORMAT = "Authy"
ITERATIONS = 1000


def _secret(item: dict[str, Any], password: str | None) -> str:
    if item.get("decryptedSecret"):
        return get(item, "decryptedSecret", str)
    encrypted = b64decode(get(item, "encryptedSecret", str), "encryptedSecret")
    salt = get(item, "salt", str).encode("utf-8")
    key = pbkdf2(require_password(password, FORMAT), salt, ITERATIONS, "sha1")
    plaintext = aes_cbc_open(key, bytes(16), encrypted, FORMAT)  # bad padding: ImportWrongPassword
    try:
        return normalize_secret(plaintext.decode("ascii"))
    except (UnicodeDecodeError, InvalidSecret):  # the padding happened to check out under a wrong key
        raise wrong_password(FORMAT) from None


def _token(item: Any, password: str | None) -> Entry:
    item = expect(item, dict, "token")
    issuer = text_field(item, "originalIssuer")
    account = text_field(item, "name")
    if issuer and account.startswith(issuer + ":"):
        account = account[len(issuer) + 1 :].strip()
    authenticator = text_field(item, "accountType") in ("", "authenticator")
    return make_entry(
        secret=_secret(item, password),
        issuer=issuer,
        account=account,
        digits=int_field(item, "digits", 6),
        period=30 if authenticator else 10,
    )


def parse(data: bytes, password: str | None = None) -> Collector:
    """Read Authy's token store XML."""
    values = shared_preferences(data, FORMAT)
    raw = next((v for k, v in values.items() if k.endswith("tokens.authenticator.key")), None)
    if raw is None:
        raise ImportFailed("this is not Authy's token store: no tokens.authenticator.key value")
    try:
        tokens = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        raise ImportFailed("Authy's token list is not valid JSON") from None
    collector = Collector()
    for position, item in enumerate(expect(tokens, list, "the token list"), start=1):
        collector.add(f"token {position}", lambda item=item: _token(item, password))
    return collector
