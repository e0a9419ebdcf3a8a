"""One-time codes: HOTP (RFC 4226), TOTP (RFC 6238) and Steam Guard codes.

Implemented on ``hmac`` directly rather than through pyotp: pyotp refuses secrets shorter than 112 bits,
yet 80-bit secrets are common in the wild (and still valid per RFC 4226). The tests check these
functions against pyotp and the RFC vectors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import struct

_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
_STEAM_ALPHABET = "23456789BCDFGHJKMNPQRTVWXY"


def secret_bytes(secret: str) -> bytes:
    """Raw key bytes of a canonical (unpadded, upper-case) Base32 secret."""
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def _truncated(key: bytes, counter: int, algorithm: str) -> int:
    mac = hmac.new(key, struct.pack(">Q", counter), _DIGESTS[algorithm]).digest()
    offset = mac[-1] & 0x0F
    return struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF


def hotp(key: bytes, counter: int, *, digits: int = 6, algorithm: str = "SHA1") -> str:
    """The HOTP value of ``counter`` (RFC 4226 §5.3), zero-padded to ``digits``."""
    return str(_truncated(key, counter, algorithm) % 10**digits).zfill(digits)


def totp(key: bytes, now: float, *, digits: int = 6, period: int = 30, algorithm: str = "SHA1") -> str:
    """The TOTP value at Unix time ``now`` (RFC 6238 §4, T0 = 0)."""
    return hotp(key, int(now // period), digits=digits, algorithm=algorithm)


def steam(key: bytes, now: float) -> str:
    """A Steam Guard code: five characters of Steam's alphabet from a 30-second TOTP value."""
    value = _truncated(key, int(now // 30), "SHA1")
    chars = []
    for _ in range(5):
        value, index = divmod(value, len(_STEAM_ALPHABET))
        chars.append(_STEAM_ALPHABET[index])
    return "".join(chars)


def seconds_left(now: float, period: int) -> int:
    """Whole seconds until the code of the period containing ``now`` expires (1..period)."""
    return max(1, math.ceil(period - (now % period)))
