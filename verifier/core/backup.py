"""Backup (look-up) codes: ten per user, about 59 bits each, stored salted and scrypt-hashed, used once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass

CODE_COUNT = 10
# 12 characters from a 31-symbol alphabet: about 59 bits (NIST 63B asks for at least 20; we want >= 40).
CODE_CHARS = 12
# 31 symbols without look-alikes (no i, l, o, 0, 1): about 4.95 bits each.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
ENTROPY_BITS = CODE_CHARS * math.log2(len(_ALPHABET))  # about 59.4
SALT_BYTES = 16


@dataclass(frozen=True)
class HashParams:
    """scrypt cost. The default costs about 15 ms a code on a small machine."""

    n: int = 2**14
    r: int = 8
    p: int = 1


def generate_codes(count: int = CODE_COUNT) -> list[str]:
    """Fresh random codes, formatted ``xxxx-xxxx-xxxx`` for reading aloud and typing."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_CHARS))
        codes.append(f"{raw[0:4]}-{raw[4:8]}-{raw[8:12]}")
    return codes


def normalize(code: str) -> str | None:
    """Lower-case, without spaces or dashes; None when it cannot be one of our codes."""
    cleaned = "".join(ch for ch in code.strip().lower() if ch not in " -")
    if len(cleaned) != CODE_CHARS or any(ch not in _ALPHABET for ch in cleaned):
        return None
    return cleaned


def hash_code(code: str, params: HashParams = HashParams()) -> str:
    """``scrypt$n$r$p$salt$hash`` for a (normalized) code, with a fresh per-code salt."""
    cleaned = normalize(code)
    if cleaned is None:
        raise ValueError("not a backup code")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(cleaned.encode(), salt=salt, n=params.n, r=params.r, p=params.p, dklen=32)
    return "$".join(["scrypt", str(params.n), str(params.r), str(params.p),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def check_code(code: str, stored: str) -> bool:
    """True when ``code`` hashes to ``stored`` (constant-time comparison)."""
    cleaned = normalize(code)
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if cleaned is None or scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(cleaned.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                               dklen=32)
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def hash_password(password: str, params: HashParams = HashParams()) -> str:
    """The same scheme for the mock tracker's account passwords."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=params.n, r=params.r, p=params.p, dklen=32)
    return "$".join(["scrypt", str(params.n), str(params.r), str(params.p),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def check_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; False for users without a password."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                               dklen=32)
    return scheme == "scrypt" and hmac.compare_digest(candidate, base64.b64decode(digest))
