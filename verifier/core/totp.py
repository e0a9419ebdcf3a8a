"""TOTP (RFC 6238) on the server: codes from pyotp, and the verifier's rules around them.

The codes themselves come from pyotp (RFC 4226 HOTP); the host keeps its own RFC 4226/6238 code because
users import 80-bit secrets there, which pyotp refuses. Here every secret is one the verifier generated
(``new_secret``: 160 bits), so the minimum pyotp enforces (``MIN_SECRET_BITS``, 112 bits, NIST SP
800-63B) always holds: the verifier has no way to import a seed today. An importer (e.g. the bulk seed
import planned for admins) must refuse a shorter seed with a clear message, or deliberately lower
``MIN_SECRET_BITS`` here.

The rules, all pure: the window (:func:`match_step`), each step accepted once (:func:`already_used`;
the store makes it stick with an atomic compare-and-set on the last accepted step), the drift that is
recorded (:func:`drift_of`: recorded only, never applied) and the enrolment's lifetime
(:func:`enrolment_fresh`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pyotp
import segno

ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
SECRET_BYTES = 20  # 160 bits, the RFC 4226 recommendation
MIN_SECRET_BITS = 112  # NIST SP 800-63B-4 §3.1.4.1; recent pyotp enforces the same, checked here for every pyotp


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


class _SecretHotp(pyotp.HOTP):
    """pyotp's RFC 4226 code generator over a secret the verifier holds as bytes.

    Built without pyotp's constructor, which would base32-encode the secret only to decode it and check its
    length again, on the hot path of every verification: the checks it makes (secret length, digits,
    digest) are made here instead (digits and digest through ``TotpParams``). pyotp computes the codes.
    """

    def __init__(self, secret: bytes, digits: int, algorithm: str) -> None:  # pyotp's __init__ skipped on purpose
        if len(secret) * 8 < MIN_SECRET_BITS:
            raise ValueError(f"a TOTP secret must have at least {MIN_SECRET_BITS} bits, this one has "
                             f"{len(secret) * 8}")
        self.digits = digits
        self.digest = ALGORITHMS[algorithm]
        self.name, self.issuer, self.initial_count = "Secret", None, 0
        self._secret_bytes = secret

    @property  # type: ignore[override]
    def secret(self) -> str:
        """The base32 form pyotp keeps (only its provisioning helpers read it)."""
        return b32(self._secret_bytes)

    def byte_secret(self) -> bytes:
        """The secret's bytes, as pyotp's ``generate_otp`` asks for them."""
        return self._secret_bytes


def new_secret() -> bytes:
    """A fresh random 160-bit secret."""
    return secrets.token_bytes(SECRET_BYTES)


def b32(secret: bytes) -> str:
    """Base32 without padding, as authenticator apps expect it."""
    return base64.b32encode(secret).decode("ascii").rstrip("=")


def hotp(secret: bytes, counter: int, digits: int = 6, algorithm: str = "SHA1") -> str:
    """RFC 4226 HOTP value for ``counter`` (any non-negative int: times past 2038 are fine).

    Raises ValueError for a negative counter or a secret shorter than ``MIN_SECRET_BITS``.
    """
    if counter < 0:
        raise ValueError("HOTP counter must not be negative")
    return _SecretHotp(secret, digits, algorithm).generate_otp(counter)


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


def match_step(secret: bytes, code: str, now: float, params: TotpParams) -> int | None:
    """The time step within ``window`` steps of now whose code equals ``code``, or None.

    The window is always centred on the verifier's clock (a recorded drift is not applied, so it cannot
    accumulate). Every candidate is computed and compared in constant time, so the timing does not tell
    which step matched.
    """
    cleaned = normalize_code(code)
    if cleaned is None or len(cleaned) != params.digits:
        return None
    generator = _SecretHotp(secret, params.digits, params.algorithm)
    centre = time_step(now, params.period)
    found: int | None = None
    # Nearest steps first, so the smallest drift wins when two steps share a code.
    for offset in sorted(range(-params.window, params.window + 1), key=abs):
        step = centre + offset
        if step < 0:
            continue
        if hmac.compare_digest(generator.generate_otp(step), cleaned) and found is None:
            found = step
    return found


def already_used(step: int, last_accepted_step: int) -> bool:
    """The replay rule (RFC 6238 §5.2): a step at or before the last accepted one is never accepted again."""
    return step <= last_accepted_step


def drift_of(step: int, now: float, period: int) -> int:
    """How many steps the accepted ``step`` lies from the verifier's clock (recorded for the admin only)."""
    return step - time_step(now, period)


def enrolment_fresh(created: float, ttl: float, now: float) -> bool:
    """Whether a pending enrolment made at ``created`` still stands at ``now`` (it lives ``ttl`` seconds)."""
    return created + ttl > now


def otpauth_uri(secret: bytes, account: str, issuer: str, params: TotpParams) -> str:
    """The ``otpauth://totp/`` key URI for enrolment in an authenticator app."""
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode({"secret": b32(secret), "issuer": issuer, "algorithm": params.algorithm,
                       "digits": params.digits, "period": params.period})
    return f"otpauth://totp/{label}?{query}"


def qr_svg(uri: str) -> str:
    """The key URI as an inline SVG QR code."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, xmldecl=False, svgns=True)
    return out.getvalue().decode("utf-8")
