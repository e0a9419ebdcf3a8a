"""The vault entry model shared by the vault, the importers, the host API and the CLI."""

from __future__ import annotations

import base64
import binascii
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..errors import InvalidSecret

OtpKind = Literal["totp", "hotp", "steam"]
ALGORITHMS = ("SHA1", "SHA256", "SHA512")

# Caps on what one entry may hold, the same on every way in (the host's add and update, the CLI, imports):
# one entry's public form then stays far below the 1 MiB a reply may carry (a 1.1 MB issuer once made
# every listing fail). Characters, except where it says otherwise.
MAX_FIELD_LENGTH = {"issuer": 1024, "account": 1024, "note": 4096, "secret": 1024, "kind": 16, "algorithm": 16}
MAX_ORIGINS = 100  # origins bound to one entry
MAX_BACKUP_CODES = 100  # codes per entry
MAX_BACKUP_CODE_LENGTH = 64


def oversized_field(entry: Entry) -> str | None:
    """Why ``entry`` is over a cap (a sentence naming the field), or None when it fits."""
    for name, cap in MAX_FIELD_LENGTH.items():
        value = getattr(entry, name)
        if isinstance(value, str) and len(value) > cap:
            return f"the entry field {name!r} is longer than {cap} characters"
    if len(entry.origins) > MAX_ORIGINS:
        return f"an entry may be bound to at most {MAX_ORIGINS} origins"
    if len(entry.backup_codes) > MAX_BACKUP_CODES:
        return f"an entry may hold at most {MAX_BACKUP_CODES} backup codes"
    for item in entry.backup_codes:
        code = item.get("code") if isinstance(item, dict) else item
        if isinstance(code, str) and len(code) > MAX_BACKUP_CODE_LENGTH:
            return f"a backup code is longer than {MAX_BACKUP_CODE_LENGTH} characters"
    return None


# 80 bits: the shortest secret authenticator apps accept (Google Authenticator: "Key value is too short"), and
# what many sites still issue; RFC 4226 asks for 128 and recommends 160. A shorter secret typed or pasted by
# hand is most likely cut short. Only such secrets are held to it: an account already in the vault, or one
# from a QR code or another app's export, keeps the secret it has (refusing it would lock the user out of it).
MIN_SECRET_CHARS = 16
_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def normalize_secret(secret: str, minimum: int = 1) -> str:
    """Canonical Base32: upper case, no spaces, hyphens or padding, at least ``minimum`` characters
    (:data:`MIN_SECRET_CHARS` for a secret typed by hand: :func:`typed_secret`). Raises InvalidSecret saying
    which rule it breaks (a character, the length)."""
    cleaned = "".join(secret.split()).replace("-", "").rstrip("=").upper()
    if not cleaned:
        raise InvalidSecret("the secret is empty")
    stray = next((c for c in cleaned if c not in _BASE32), None)
    if stray is not None:
        raise InvalidSecret(f"the secret is not valid Base32: {stray!r} is not one of its letters A–Z and digits 2–7")
    if len(cleaned) < minimum:
        raise InvalidSecret(f"the secret is too short: {len(cleaned)} characters; a TOTP secret has at least "
                            f"{minimum} Base32 characters ({minimum * 5} bits). Was it copied in full?")
    try:
        base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):  # 8n+1, 8n+3 and 8n+6 characters encode no whole number of bytes
        raise InvalidSecret(f"the secret's {len(cleaned)} characters are not a length Base32 text has: one is "
                            "missing or one too many. Was it copied in full?") from None
    return cleaned


def typed_secret(secret: str) -> str:
    """A secret the user typed or pasted on its own (not in a URI or a file): canonical, and not cut short."""
    return normalize_secret(secret, MIN_SECRET_CHARS)


def secret_from_bytes(raw: bytes) -> str:
    """Base32 text (no padding) for a raw secret."""
    if not raw:
        raise InvalidSecret("the secret is empty")
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def new_entry_id() -> str:
    """A random 128-bit id as 32 hex digits (os.urandom: `uuid` costs the host's cold start ~4 ms)."""
    return os.urandom(16).hex()


@dataclass
class Entry:
    """One OTP account. ``secret`` is canonical Base32 without padding."""

    secret: str
    kind: OtpKind = "totp"
    issuer: str = ""
    account: str = ""
    algorithm: str = "SHA1"
    digits: int = 6
    period: int = 30
    counter: int = 0
    origins: list[str] = field(default_factory=list)
    backup_codes: list[dict[str, Any]] = field(default_factory=list)  # {"code": str, "used": bool}
    note: str = ""
    id: str = field(default_factory=new_entry_id)
    created: float = field(default_factory=time.time)
    last_used: float | None = None

    def __post_init__(self) -> None:
        self.secret = normalize_secret(self.secret)
        self.algorithm = self.algorithm.upper().replace("-", "")
        if self.algorithm not in ALGORITHMS:
            raise InvalidSecret(f"unsupported algorithm {self.algorithm!r}; use SHA1, SHA256 or SHA512")
        if self.kind not in ("totp", "hotp", "steam"):
            raise InvalidSecret(f"unsupported OTP type {self.kind!r}")
        if self.kind == "steam":
            self.digits, self.period, self.algorithm = 5, 30, "SHA1"
        elif not 6 <= int(self.digits) <= 8:
            raise InvalidSecret(f"digits must be 6, 7 or 8, not {self.digits}")
        if int(self.period) <= 0:
            raise InvalidSecret(f"period must be positive, not {self.period}")
        if int(self.counter) < 0:
            raise InvalidSecret("counter must not be negative")

    @property
    def label(self) -> str:
        if self.issuer and self.account:
            return f"{self.issuer}:{self.account}"
        return self.issuer or self.account or self.id[:8]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def public_dict(self) -> dict[str, Any]:
        """Everything but the secret and the backup codes' values: what the extension may see."""
        return {
            "id": self.id,
            "issuer": self.issuer,
            "account": self.account,
            "label": self.label,
            "kind": self.kind,
            "digits": self.digits,
            "period": self.period,
            "algorithm": self.algorithm,
            "origins": list(self.origins),
            "backup_codes_left": sum(1 for c in self.backup_codes if not c.get("used")),
            "created": self.created,
            "last_used": self.last_used,
        }
