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
SMTP_PASSWORD_ENV = "TRACKER2FA_SMTP_PASSWORD"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
SMTP_SECURITY = {"starttls": 587, "tls": 465, "none": 25}  # how the sender talks to the relay, and its usual port


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


@dataclass(frozen=True)
class MailSettings:
    """The relay the mail sender delivers to, and how it paces itself (see docs/verifier.md, "Mail to users").

    ``host`` None: no sender runs in this process (another process or node may run it: the outbox is shared).
    ``security``: ``starttls`` (port 587), ``tls`` (implicit TLS, port 465) or ``none`` (plain SMTP: only to a
    relay on this machine when authenticating). The relay's certificate is checked against the system's CAs, or
    ``cafile``. Times are seconds.
    """

    host: str | None = None
    port: int | None = None  # None: the usual port of ``security``
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    from_address: str = ""
    from_name: str = "tracker2fa"  # the sender's display name; also the site named in every mail
    cafile: str | None = None
    timeout: float = 30.0  # per SMTP command
    poll_seconds: float = 5.0  # how often the sender looks for due mail (and a standby sender for the lock)
    lease_seconds: float = 300.0  # how long a claimed mail is its sender's (no send starts in the second half)
    batch: int = 50  # mails claimed (and sent over one connection) at a time
    retry_base: float = 60.0  # first wait after a failed try, doubling per try
    retry_max: float = 3600.0
    give_up_after: float = 3 * 86400.0  # a mail not delivered by then is marked failed
    keep_days: float = 30.0  # sent, failed and dropped mails stay visible this long, then are deleted

    @property
    def relay_port(self) -> int:
        return self.port if self.port is not None else SMTP_SECURITY.get(self.security, 587)

    def validated(self) -> MailSettings:
        """These settings, checked; raises VerifierConfigError naming what is wrong."""
        from .core.addresses import check_address

        if not self.host or not isinstance(self.host, str) or any(c.isspace() for c in self.host):
            raise VerifierConfigError("the SMTP relay needs a host name (--smtp-host)")
        if self.security not in SMTP_SECURITY:
            raise VerifierConfigError(f"SMTP security must be one of {', '.join(SMTP_SECURITY)}, got {self.security!r}")
        if not 1 <= self.relay_port <= 65535:
            raise VerifierConfigError(f"the SMTP port must be 1-65535, got {self.relay_port}")
        try:
            check_address(self.from_address)
        except ValueError as exc:
            raise VerifierConfigError(f"the mail from address (--mail-from) is not usable: {exc}") from None
        if not self.from_name or len(self.from_name) > 100 or not self.from_name.isprintable():
            raise VerifierConfigError("the mail sender's name must be 1-100 printable characters")
        if (self.username is None) != (self.password is None):
            raise VerifierConfigError(f"SMTP authentication needs both a user (--smtp-user) and a password "
                                      f"(${SMTP_PASSWORD_ENV} or --smtp-password-stdin)")
        if self.username is not None and self.security == "none" and self.host not in ("localhost", "127.0.0.1", "::1"):
            raise VerifierConfigError("SMTP authentication over plain SMTP would send the password in clear: use "
                                      "--smtp-security starttls or tls")
        if self.cafile is not None and not Path(self.cafile).is_file():
            raise VerifierConfigError(f"the CA file {self.cafile} does not exist")
        for name in ("timeout", "poll_seconds", "lease_seconds", "retry_base", "retry_max", "give_up_after"):
            if not getattr(self, name) > 0:
                raise VerifierConfigError(f"mail setting {name} must be positive")
        if self.retry_max < self.retry_base or self.lease_seconds < 10 * self.timeout:
            raise VerifierConfigError("mail settings: retry_max must be at least retry_base, and lease_seconds at "
                                      "least ten SMTP timeouts (a send starts in the first half of a lease and takes "
                                      "at most four timeouts, so it ends inside the lease)")
        if not 1 <= self.batch <= 1000:
            raise VerifierConfigError("mail setting batch must be 1-1000")
        return self
