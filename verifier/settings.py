"""Configuration of the verifier (rules) and of its HTTP API."""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from .core.backup import HashParams
from .core.ratelimit import RateLimitRules
from .core.totp import TotpParams
from .errors import VerifierConfigError

KEY_ENV = "TRACKER2FA_VERIFIER_KEY"
ADMIN_TOKEN_ENV = "TRACKER2FA_ADMIN_TOKEN"
SERVICE_TOKEN_ENV = "TRACKER2FA_SERVICE_TOKEN"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


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
        _create_secret_file(key_path, base64.b64encode(secrets.token_bytes(32)))
        return decode_key(key_path.read_text())
    raise VerifierConfigError(f"no server key: set {KEY_ENV} (32 bytes, base64) or pass server_key")


def _create_secret_file(path: Path, content: bytes) -> None:
    """Write ``content`` to a new 0600 file; an existing file (another process won the race) is kept."""
    # Not native_host/atomic.py: the server shares no code with the user's machine, and this is a different
    # operation, created once and never replaced (O_EXCL decides which of several starting workers wins).
    if path.exists():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first: use theirs
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)  # whatever the umask
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())


def service_token_path(store_url: str) -> Path | None:
    """Where a generated service token lives: ``<database>.service-token`` for SQLite, nowhere otherwise."""
    if store_url.startswith("sqlite:///"):
        return Path(store_url[len("sqlite:///"):] + ".service-token")
    return None


def resolve_service_token(configured: str | None, store_url: str) -> tuple[str, Path | None]:
    """The service token and the file it came from (None when configured or from the environment).

    Order: ``configured`` (e.g. read from stdin), $TRACKER2FA_SERVICE_TOKEN, else — SQLite only — a 0600
    ``<database>.service-token`` file, generated on first start. PostgreSQL deployments must configure it:
    every process needs the same token and there is no file beside the database to share.
    """
    for value in (configured, os.environ.get(SERVICE_TOKEN_ENV)):
        if value is not None and value.strip():
            return check_token(value.strip(), "service token"), None
    path = service_token_path(store_url)
    if path is None:
        raise VerifierConfigError(f"no service token: set {SERVICE_TOKEN_ENV} or pass --service-token-stdin "
                                  "(PostgreSQL deployments share one token between processes)")
    try:
        _create_secret_file(path, secrets.token_urlsafe(32).encode())
        token = path.read_text().strip()
    except OSError as exc:
        raise VerifierConfigError(f"cannot create or read the service token file {path} ({exc.strerror}): "
                                  f"set {SERVICE_TOKEN_ENV} or pass --service-token-stdin") from None
    if not token:
        raise VerifierConfigError(f"the service token file {path} is empty: delete it to generate a new one")
    return check_token(token, "service token"), path


MAKE_A_TOKEN = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def check_token(token: str, what: str) -> str:
    """A bearer token must be printable ASCII without spaces (it travels in an HTTP header), and long enough
    not to be guessed (16 characters at least). The admin and the service token are held to the same rule."""
    if not 16 <= len(token) <= 512 or not all(33 <= ord(c) < 127 for c in token):
        raise VerifierConfigError(f"the {what} must be 16-512 printable ASCII characters without spaces "
                                  f"(make one with: {MAKE_A_TOKEN}); nothing was created")
    return token


@dataclass(frozen=True)
class ApiSettings:
    """HTTP API settings."""

    admin_token: str | None = None  # bearer token for /v1/admin/*; None disables the admin endpoints
    service_token: str | None = None  # bearer token the tracker presents; None disables those endpoints
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS  # Host header values served (DNS rebinding); "*" = any
    max_body_bytes: int = 64 * 1024
