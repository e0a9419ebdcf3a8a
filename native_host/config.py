"""The host's own configuration: which extensions it serves, and the vault's auto-lock time.

Written by ``tracker2fa install`` (and by ``settings.set`` for the auto-lock time) as a small JSON file::

    {"version": 1,
     "chromium_extension_ids": ["cbfailhijbndifbpgimfdbkbjkiognal"],
     "firefox_extension_ids": ["tracker2fa@tracker2fa.dev"],
     "auto_lock_seconds": 300}

Location: ``$TRACKER2FA_CONFIG`` if set, else ``<platformdirs user config dir>/tracker2fa/host.json``.
When no file exists the built-in development extension ids apply (exactly what ``install`` writes by
default); a file that exists but cannot be read fails closed: no caller is allowed.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

from . import DEV_EXTENSION_ID, GECKO_EXTENSION_ID
from .atomic import write_file_atomically
from .errors import BadRequest, Tracker2faError

CONFIG_ENV = "TRACKER2FA_CONFIG"
CONFIG_VERSION = 1
DEFAULT_AUTO_LOCK_SECONDS = 300
MAX_AUTO_LOCK_SECONDS = 7 * 24 * 3600

# Chromium ids: 32 letters a–p. Firefox ids: an email-like id or a {GUID} (AMO rules).
_CHROMIUM_ID = re.compile(r"[a-p]{32}")  # fullmatch: "$" would let a trailing newline through
_GECKO_ID = re.compile(r"^(\{[0-9a-fA-F-]{36}\}|[A-Za-z0-9._+-]{1,80}@[A-Za-z0-9._-]{1,80})$")


class ConfigError(Tracker2faError):
    """The host configuration file cannot be used. Re-run `tracker2fa install` to rewrite it."""

    code = "config_error"


def is_chromium_extension_id(value: str) -> bool:
    """True for a well-formed Chromium extension id (32 letters a–p)."""
    return isinstance(value, str) and bool(_CHROMIUM_ID.fullmatch(value))


def is_firefox_extension_id(value: str) -> bool:
    """True for a well-formed Firefox add-on id (``name@domain`` or ``{GUID}``)."""
    return isinstance(value, str) and bool(_GECKO_ID.fullmatch(value))


def validate_auto_lock_seconds(value: object) -> int:
    """Return ``value`` as a number of seconds (0 = never auto-lock) or raise :class:`BadRequest`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AUTO_LOCK_SECONDS:
        raise BadRequest(f"auto_lock_seconds must be an integer from 0 (never) to {MAX_AUTO_LOCK_SECONDS}")
    return value


def config_path() -> Path:
    """Where the host configuration lives (``$TRACKER2FA_CONFIG`` overrides the per-user default)."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform.startswith("linux"):
        # What platformdirs answers on Linux, without its ~7 ms import on the host's cold-start path.
        xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
        return base / "tracker2fa" / "host.json"
    import platformdirs

    return platformdirs.user_config_path("tracker2fa", appauthor=False) / "host.json"


class HostConfig:
    """The allowed callers and the auto-lock time (a plain class: dataclasses cost cold-start time)."""

    def __init__(
        self,
        chromium_extension_ids: list[str] | None = None,
        firefox_extension_ids: list[str] | None = None,
        auto_lock_seconds: int = DEFAULT_AUTO_LOCK_SECONDS,
        path: Path | None = None,
    ) -> None:
        self.chromium_extension_ids = [DEV_EXTENSION_ID] if chromium_extension_ids is None else chromium_extension_ids
        self.firefox_extension_ids = [GECKO_EXTENSION_ID] if firefox_extension_ids is None else firefox_extension_ids
        self.auto_lock_seconds = auto_lock_seconds
        self.path = path  # where it was read from or will be written to

    def to_json(self) -> dict:
        return {
            "version": CONFIG_VERSION,
            "chromium_extension_ids": list(self.chromium_extension_ids),
            "firefox_extension_ids": list(self.firefox_extension_ids),
            "auto_lock_seconds": self.auto_lock_seconds,
        }

    @classmethod
    def from_json(cls, data: object, path: Path | None = None) -> HostConfig:
        """Validate parsed JSON. Raises :class:`ConfigError` naming the problem."""
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the host configuration must be a JSON object")
        version = data.get("version", CONFIG_VERSION)
        if version != CONFIG_VERSION:
            raise ConfigError(f"{path}: unsupported host configuration version {version!r}")
        chromium = data.get("chromium_extension_ids", [])
        firefox = data.get("firefox_extension_ids", [])
        if not isinstance(chromium, list) or not all(is_chromium_extension_id(i) for i in chromium):
            raise ConfigError(f"{path}: chromium_extension_ids must be a list of 32-letter (a–p) extension ids")
        if not isinstance(firefox, list) or not all(is_firefox_extension_id(i) for i in firefox):
            raise ConfigError(f"{path}: firefox_extension_ids must be a list of add-on ids (name@domain or {{GUID}})")
        try:
            auto_lock = validate_auto_lock_seconds(data.get("auto_lock_seconds", DEFAULT_AUTO_LOCK_SECONDS))
        except BadRequest as exc:
            raise ConfigError(f"{path}: {exc.message}") from None
        return cls(list(chromium), list(firefox), auto_lock, path)

    def allows_chromium(self, extension_id: str) -> bool:
        return extension_id in self.chromium_extension_ids

    def allows_firefox(self, extension_id: str) -> bool:
        return extension_id in self.firefox_extension_ids


def load_config(path: Path | None = None) -> HostConfig:
    """Read the host configuration; defaults when the file does not exist. Raises :class:`ConfigError`."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return HostConfig(path=path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the host configuration ({exc.strerror})") from None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ConfigError(f"{path}: the host configuration is not valid JSON") from None
    return HostConfig.from_json(data, path)


def save_config(config: HostConfig, path: Path | None = None) -> Path:
    """Write the configuration atomically (temp file, fsync, rename) with mode 0600; return its path."""
    path = path or config.path or config_path()
    write_file_atomically(path, (json.dumps(config.to_json(), indent=2) + "\n").encode(), 0o600)
    config.path = path
    return path
