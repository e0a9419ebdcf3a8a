"""Configuration of the verifier (rules) and of its HTTP API."""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from native_host.errors import VerifierConfigError

from .core.backup import HashParams
from .core.ratelimit import RateLimitRules
from .core.totp import TotpParams

KEY_ENV = "TRACKER2FA_VERIFIER_KEY"
ADMIN_TOKEN_ENV = "TRACKER2FA_ADMIN_TOKEN"


@dataclass(frozen=True)
class VerifierSettings:
    """Everything the rules need. Defaults are documented in docs/verifier.md."""

    rp_id: str = "localhost"
    rp_name: str = "tracker2fa"
    origins: tuple[str, ...] = ("http://localhost",)
    issuer: str = ""  # shown in authenticator apps; defaults to rp_name
    totp: TotpParams = field(default_factory=TotpParams)
    rate_limit: RateLimitRules = field(default_factory=RateLimitRules)
    ip_rate_limit: RateLimitRules = field(default_factory=lambda: RateLimitRules(free_failures=20))
    backup_hash: HashParams = field(default_factory=HashParams)
    password_hash: HashParams = field(default_factory=HashParams)
    challenge_ttl: float = 300.0
    enrol_ttl: float = 3600.0
    attestation: str = "none"  # "none" or "verify" (against attestation_roots, DER certificates)
    attestation_roots: tuple[bytes, ...] = ()
    appid: str | None = None  # legacy U2F app id URL, for keys registered with the old U2F API
    server_key: bytes | str | None = None  # 32-byte AES key (or base64 of it) for secrets at rest


def decode_key(value: bytes | str) -> bytes:
    """A 32-byte key from raw bytes or base64 text; raises VerifierConfigError otherwise."""
    if isinstance(value, str):
        try:
            value = base64.b64decode(value.strip(), validate=True)
        except ValueError:
            raise VerifierConfigError("the server key must be 32 bytes, base64-encoded") from None
    if len(value) != 32:
        raise VerifierConfigError("the server key must be 32 bytes (AES-256)")
    return value


def resolve_server_key(configured: bytes | str | None, store_url: str) -> bytes:
    """The key from settings, else $TRACKER2FA_VERIFIER_KEY, else a 0600 key file beside a SQLite database.

    PostgreSQL deployments must configure the key: several processes have to share it.
    """
    if configured is not None:
        return decode_key(configured)
    if os.environ.get(KEY_ENV):
        return decode_key(os.environ[KEY_ENV])
    if store_url.startswith("sqlite:///"):
        key_path = Path(store_url[len("sqlite:///"):] + ".key")
        if not key_path.exists():
            key = base64.b64encode(secrets.token_bytes(32))
            try:
                fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first: use theirs
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(key)
                    fh.flush()
                    os.fsync(fh.fileno())
        return decode_key(key_path.read_text())
    raise VerifierConfigError(f"no server key: set {KEY_ENV} (32 bytes, base64) or pass server_key")


@dataclass(frozen=True)
class ApiSettings:
    """HTTP API settings."""

    admin_token: str | None = None  # bearer token for /v1/admin/*; None disables the admin endpoints
    service_token: str | None = None  # bearer token the tracker presents; None leaves those endpoints open
    max_body_bytes: int = 64 * 1024
