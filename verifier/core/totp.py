"""TOTP (RFC 6238) over HOTP (RFC 4226): code generation and window matching.

Replay protection is not decided here: :func:`match_step` returns the matched time step and the
caller makes it stick with the store's atomic compare-and-set on the last accepted step.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
SECRET_BYTES = 20  # 160 bits, the RFC 4226 recommendation


@dataclass(frozen=True)
class TotpParams:
    """How codes are built and how far from "now" they are accepted."""

    digits: int = 6
    period: int = 30
    algorithm: str = "SHA1"
    window: int = 1  # steps accepted either side of the current one (RFC 6238 §5.2: one step of delay)

    def __post_init__(self) -> None:
        if self.digits not in (6, 7, 8):
            raise ValueError("TOTP digits must be 6, 7 or 8")
        if not 10 <= self.period <= 300:
            raise ValueError("TOTP period must be between 10 and 300 seconds")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"TOTP algorithm must be one of {', '.join(ALGORITHMS)}")
        if not 0 <= self.window <= 10:
            raise ValueError("TOTP window must be between 0 and 10 steps")


def new_secret() -> bytes:
    """A fresh random 160-bit secret."""
    return secrets.token_bytes(SECRET_BYTES)


def b32(secret: bytes) -> str:
    """Base32 without padding, as authenticator apps expect it."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def hotp(secret: bytes, counter: int, digits: int = 6, algorithm: str = "SHA1") -> str:
    """RFC 4226 HOTP value for ``counter`` (any non-negative int: times past 2038 are fine)."""
    if counter < 0:
        raise ValueError("HOTP counter must not be negative")
    mac = hmac.new(secret, counter.to_bytes(8, "big"), ALGORITHMS[algorithm]).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def time_step(now: float, period: int) -> int:
    """The RFC 6238 time step T for unix time ``now`` (T0 = 0)."""
    return int(now // period)


def totp(secret: bytes, now: float, params: TotpParams = TotpParams()) -> str:
    """The code valid at ``now``."""
    return hotp(secret, time_step(now, params.period), params.digits, params.algorithm)


def normalize_code(code: str) -> str | None:
    """Digits only (spaces allowed in input); None when it cannot be a code at all."""
    cleaned = "".join(code.split())
    if not cleaned.isascii() or not cleaned.isdigit() or not 6 <= len(cleaned) <= 8:
        return None
    return cleaned


def match_step(secret: bytes, code: str, now: float, params: TotpParams, drift: int = 0) -> int | None:
    """The time step within ``window`` of now (shifted by the recorded ``drift``) whose code equals ``code``.

    Every candidate is compared in constant time, and all candidates are always computed, so the timing
    does not tell which step matched. Returns None when none matches.
    """
    cleaned = normalize_code(code)
    if cleaned is None or len(cleaned) != params.digits:
        return None
    centre = time_step(now, params.period) + drift
    found: int | None = None
    # Nearest steps first, so the smallest drift wins when two steps share a code.
    for offset in sorted(range(-params.window, params.window + 1), key=abs):
        step = centre + offset
        if step < 0:
            continue
        if hmac.compare_digest(hotp(secret, step, params.digits, params.algorithm), cleaned) and found is None:
            found = step
    return found


def otpauth_uri(secret: bytes, account: str, issuer: str, params: TotpParams) -> str:
    """The ``otpauth://totp/`` key URI for enrolment in an authenticator app."""
    from urllib.parse import quote, urlencode

    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode({"secret": b32(secret), "issuer": issuer, "algorithm": params.algorithm,
                       "digits": params.digits, "period": params.period})
    return f"otpauth://totp/{label}?{query}"


def qr_svg(uri: str) -> str:
    """The key URI as an inline SVG QR code."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, xmldecl=False, svgns=True)
    return out.getvalue().decode("utf-8")
