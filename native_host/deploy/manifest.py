"""Native-messaging host manifests: their content, and the checks on a host path on this machine."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from .. import HOST_NAME
from ..errors import Tracker2faError

DESCRIPTION = "tracker2fa native host: one-click second factor from the local encrypted vault"
# Chromium: lowercase alphanumerics, '_' and '.', no leading/trailing/double dot. Firefox: ^\w+(\.\w+)*$.
_HOST_NAME_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")


class DeployError(Tracker2faError):
    """The host cannot be registered as asked; nothing was written."""

    code = "deploy_error"


def manifest_filename(name: str = HOST_NAME) -> str:
    return f"{name}.json"


def default_host_path() -> Path:
    """The ``tracker2fa-host`` console script installed next to this Python (the venv's bin folder)."""
    scripts = Path(sys.executable).parent
    candidate = scripts / ("tracker2fa-host.exe" if sys.platform == "win32" else "tracker2fa-host")
    if candidate.exists():
        return candidate
    import shutil

    found = shutil.which("tracker2fa-host")
    return Path(found) if found else candidate


def check_host_path(path: Path) -> Path:
    """Return ``path`` made absolute, or raise DeployError if a browser could not (or should not) start it.

    Refuses non-ASCII paths: a homoglyph in a path is an old trick to point a manifest somewhere else, and
    some browsers mangle non-ASCII manifest paths.
    """
    path = Path(os.path.abspath(path))
    text = str(path)
    if not text.isascii() or any(ord(c) < 0x20 for c in text):
        raise DeployError(f"refusing a host path with non-ASCII or control characters: {text!r}")
    if not path.exists():
        raise DeployError(f"the host executable does not exist: {text} (is the package installed?)")
    if not path.is_file():
        raise DeployError(f"the host path is not a file: {text}")
    if not os.access(path, os.X_OK):
        raise DeployError(f"the host executable is not executable: {text} (chmod +x it)")
    return path


def host_manifest(family: str, host_path: Path, extension_ids: list[str], name: str = HOST_NAME) -> dict[str, Any]:
    """The manifest content for a browser family ("chromium" or "firefox")."""
    if not _HOST_NAME_RE.fullmatch(name):
        raise DeployError(f"invalid host name {name!r}: lowercase letters, digits, '_' and single dots only")
    if not extension_ids:
        raise DeployError(f"no {family} extension id to allow")
    manifest: dict[str, Any] = {
        "name": name,
        "description": DESCRIPTION,  # required: Chromium ignores a manifest without it
        "path": str(host_path),
        "type": "stdio",
    }
    if family == "firefox":
        manifest["allowed_extensions"] = list(extension_ids)
    elif family == "chromium":
        manifest["allowed_origins"] = [f"chrome-extension://{i}/" for i in extension_ids]
    else:
        raise DeployError(f"unknown browser family {family!r}")
    return manifest


def as_deploy_error(exc: OSError, doing: str) -> DeployError:
    """A file-system failure as a DeployError naming what was being done and the file."""
    where = f" ({exc.filename})" if exc.filename else ""
    return DeployError(f"could not {doing}: {exc.strerror or exc}{where}")
