"""Backup (look-up) codes: ten per user, about 59 bits each, stored salted and scrypt-hashed, used once.

Each stored code also carries a short keyed *lookup tag* (``HMAC-SHA256(lookup_key, code)``, first
``LOOKUP_TAG_BYTES`` bytes): an attempt computes the tag (fast), fetches the one unused code with that tag,
and runs a single scrypt check; when no code has the tag, one scrypt check against a dummy hash does the
same work. So every attempt costs one slow hash, whoever the user is and however many codes they hold.
The tag is keyed by the server key and too short to identify a code: from the database alone it says
nothing, and with the server key it leaves about 35 of the 59 bits to brute-force through scrypt.
"""

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
LOOKUP_TAG_BYTES = 3  # 24 bits: ten codes per user rarely share one (and generation avoids it)
_LOOKUP_CONTEXT = b"tracker2fa backup-code lookup tag v1"


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


def lookup_key(server_key: bytes) -> bytes:
    """The HMAC key of the lookup tags, derived from the server key (a separate key per purpose)."""
    return hmac.new(server_key, _LOOKUP_CONTEXT, hashlib.sha256).digest()


def lookup_tag(code: str, key: bytes) -> str | None:
    """The lookup tag of a code (hex), or None when ``code`` cannot be one of our codes."""
    cleaned = normalize(code) if isinstance(code, str) else None
    if cleaned is None:
        return None
    return hmac.new(key, cleaned.encode(), hashlib.sha256).digest()[:LOOKUP_TAG_BYTES].hex()


def generate_tagged_codes(key: bytes, count: int = CODE_COUNT) -> list[tuple[str, str]]:
    """Fresh ``(code, lookup tag)`` pairs whose tags are all different (so one attempt meets one hash)."""
    pairs: dict[str, str] = {}
    while len(pairs) < count:
        code = generate_codes(1)[0]
        tag = lookup_tag(code, key)
        assert tag is not None  # our own codes always normalize
        pairs.setdefault(tag, code)
    return [(code, tag) for tag, code in pairs.items()]


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
