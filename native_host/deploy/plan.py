"""An install plan: every file (with its content) and registry value ``tracker2fa install`` will write.

The plan is computed first and checked as a whole, then applied (:mod:`.apply`), or printed as JSON for an
admin to review (``--dry-run --json``), for this machine or another OS. Nothing here writes anything.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from .. import DEV_EXTENSION_ID, GECKO_EXTENSION_ID
from ..config import ConfigError, HostConfig, is_chromium_extension_id, is_firefox_extension_id
from .browsers import Browser
from .layouts import ManifestLocation, custom_profile_location, launcher_path, manifest_locations, system_config_path
from .manifest import DeployError, host_manifest
from .platforms import TargetOS

# Characters cmd.exe would interpret inside a .bat line even within quotes.
_BAT_UNSAFE = set('%"^&|<>!\r\n')
WINDOWS_EXECUTABLE_SUFFIXES = (".exe", ".bat", ".cmd", ".com")


@dataclass
class FileWrite:
    """A file the install writes. ``browsers`` are those that need it (uninstall removes it with the last)."""

    path: PurePath
    content: str
    mode: int
    role: str  # manifest, launcher, config
    browsers: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "role": self.role,
            "mode": f"{self.mode:04o}",
            "browsers": self.browsers,
            "content": self.content,
        }


@dataclass
class RegistryWrite:
    """A REG_SZ value the install sets (Windows): the default value of a host key = the manifest path."""

    hive: str
    key: str
    view: str | None
    value: str
    browsers: list[str]
    name: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "hive": self.hive,
            "view": self.view or "shared",
            "key": self.key,
            "name": self.name or "(default)",
            "type": "REG_SZ",
            "value": self.value,
            "browsers": self.browsers,
        }


@dataclass
class Plan:
    """Everything one install writes, in the target OS's terms."""

    os: str
    scope: str
    browsers: list[str]
    host_path: str  # the program the browser starts (the launcher when one is generated)
    files: list[FileWrite] = field(default_factory=list)
    registry: list[RegistryWrite] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "os": self.os,
            "scope": self.scope,
            "browsers": self.browsers,
            "host_path": self.host_path,
            "files": [f.to_json() for f in self.files],
            "registry": [r.to_json() for r in self.registry],
            "notes": self.notes,
        }


def split_extension_ids(ids: list[str]) -> tuple[list[str], list[str]]:
    """Sort ids into (chromium, firefox) by their shape; raises DeployError for an id of neither shape."""
    chromium, firefox = [], []
    for ext_id in ids:
        if is_chromium_extension_id(ext_id):
            chromium.append(ext_id)
        elif is_firefox_extension_id(ext_id):
            firefox.append(ext_id)
        else:
            raise DeployError(
                f"{ext_id!r} is neither a Chromium extension id (32 letters a–p) nor a Firefox add-on id "
                "(name@domain or {GUID})"
            )
    return chromium, firefox


def owner_name(browser: Browser, user_data_dir: PurePath | None = None) -> str:
    """Who needs an installed item: a browser, or a browser's custom profile (``chromium:/path/profile``)."""
    return browser.name if user_data_dir is None else f"{browser.name}:{user_data_dir}"


def check_target_host_path(target: TargetOS, text: str) -> PurePath:
    """The host path as the browser will see it, or DeployError if a browser could not (or should not) start it.

    Refuses relative and non-ASCII paths (a homoglyph can point a manifest elsewhere; some browsers mangle
    non-ASCII paths). Where the target's files are reachable, the host must exist and be executable.
    """
    if not text.isascii() or any(ord(c) < 0x20 for c in text):
        raise DeployError(f"refusing a host path with non-ASCII or control characters: {text!r}")
    if not target.is_absolute(text):
        raise DeployError(f"the host path must be absolute, not {text!r}")
    path = target.path(text)
    if not target.is_local:
        return path
    disk = target.on_disk(path)
    if not disk.exists():
        raise DeployError(f"the host executable does not exist: {text} (is the package installed?)")
    if not disk.is_file():
        raise DeployError(f"the host path is not a file: {text}")
    if target.is_windows:
        if path.suffix.lower() not in WINDOWS_EXECUTABLE_SUFFIXES:
            raise DeployError(f"Windows starts only .exe, .bat, .cmd or .com hosts, not {text}")
    elif not os.access(disk, os.X_OK):
        raise DeployError(f"the host executable is not executable: {text} (chmod +x it)")
    return path


def launcher_script(target: TargetOS, host: PurePath, config: PurePath) -> str:
    """A launcher the OS can run that starts ``host`` with the machine's host configuration."""
    if target.is_windows:
        for value in (str(host), str(config)):
            bad = sorted(set(value) & _BAT_UNSAFE)
            if bad:
                raise DeployError(f"refusing a path with {''.join(bad)!r} in a Windows launcher: {value}")
        lines = [
            "@echo off",
            "rem Written by `tracker2fa install --system`: browsers start this; it starts the tracker2fa host",
            "rem with the machine's host configuration.",
            f'set "TRACKER2FA_CONFIG={config}"',
            f'"{host}" %*',
        ]
        return "\r\n".join(lines) + "\r\n"
    lines = [
        "#!/bin/sh",
        "# Written by `tracker2fa install --system`: browsers start this; it starts the tracker2fa host",
        "# with the machine's host configuration.",
        f"TRACKER2FA_CONFIG={shlex.quote(str(config))}",
        "export TRACKER2FA_CONFIG",
        f'exec {shlex.quote(str(host))} "$@"',
    ]
    return "\n".join(lines) + "\n"


def _read_existing_config(target: TargetOS, path: PurePath) -> HostConfig | None:
    """The configuration already at ``path`` (None when absent, unreadable or on another machine)."""
    if not target.is_local:
        return None
    from ..config import load_config

    disk = target.on_disk(path)
    if not disk.exists():
        return None
    try:
        return load_config(disk)
    except ConfigError:
        return None  # a broken configuration is replaced, not merged


def _locations(browser: Browser, target: TargetOS, scope: str, user_data_dir: PurePath | None) -> list:
    if user_data_dir is not None:
        return [custom_profile_location(browser, target, user_data_dir)]
    found = manifest_locations(browser, target, scope)
    if target.is_local and target.name == "linux" and scope == "system":
        # /usr/lib64/mozilla is read on distributions that have /usr/lib64 (Fedora, openSUSE); skip it elsewhere.
        lib64 = target.on_disk(target.path("/usr/lib64")).is_dir()
        found = [loc for loc in found if lib64 or not str(loc.path).startswith("/usr/lib64/")]
    return found


def build_plan(
    target: TargetOS,
    scope: str,
    browsers: list[Browser],
    *,
    host_path: str,
    extension_ids: list[str] | None = None,
    user_config_path: PurePath | None = None,
    user_data_dir: PurePath | None = None,
) -> Plan:
    """Compute and check everything an install writes. Raises DeployError before anything is written."""
    if scope not in ("user", "system"):
        raise DeployError(f"unknown scope {scope!r}")
    if not browsers:
        raise DeployError("no browser to register with")
    host = check_target_host_path(target, host_path)
    chromium_ids, firefox_ids = split_extension_ids(extension_ids or [])
    if not extension_ids:
        chromium_ids, firefox_ids = [DEV_EXTENSION_ID], [GECKO_EXTENSION_ID]
    names = [owner_name(b, user_data_dir) for b in browsers]
    plan = Plan(target.name, scope, names, str(host))

    if scope == "system":
        config_file = system_config_path(target)
        launcher = launcher_path(target, scope)
        plan.files.append(FileWrite(launcher, launcher_script(target, host, config_file), 0o755, "launcher", names))
        plan.host_path = str(launcher)
        config_mode = 0o644  # every user's host reads it; it holds no secret
    else:
        if user_config_path is None:
            raise DeployError("no host configuration path for a per-user install")
        config_file, config_mode = user_config_path, 0o600

    existing = _read_existing_config(target, config_file)
    # A first install allows exactly the ids asked for; a later one adds to those already allowed.
    config = HostConfig([], [], HostConfig().auto_lock_seconds) if existing is None else existing
    config.chromium_extension_ids = list(dict.fromkeys([*config.chromium_extension_ids, *chromium_ids]))
    config.firefox_extension_ids = list(dict.fromkeys([*config.firefox_extension_ids, *firefox_ids]))
    plan.files.append(
        FileWrite(config_file, json.dumps(config.to_json(), indent=2) + "\n", config_mode, "config", names)
    )

    manifests: dict[str, FileWrite] = {}
    registry: dict[tuple[str, str, str | None], RegistryWrite] = {}
    for browser in browsers:
        ids = config.firefox_extension_ids if browser.family == "firefox" else config.chromium_extension_ids
        if not ids:
            raise DeployError(f"no {browser.family} extension id is allowed; pass --extension-id for {browser.name}")
        content = json.dumps(host_manifest(browser.family, target.path(plan.host_path), ids), indent=2) + "\n"
        location: ManifestLocation
        for location in _locations(browser, target, scope, user_data_dir):
            key = str(location.path)
            owner = owner_name(browser, user_data_dir)
            if key in manifests:
                if manifests[key].content != content:  # pragma: no cover - same path implies same family
                    raise DeployError(f"two browsers need different manifests at {key}")
                manifests[key].browsers.append(owner)
            else:
                manifests[key] = FileWrite(location.path, content, 0o644, "manifest", [owner])
            for pointer in location.registry:
                slot = (pointer.hive, pointer.key.lower(), pointer.view)
                if slot in registry:
                    registry[slot].browsers.append(owner)
                else:
                    registry[slot] = RegistryWrite(pointer.hive, pointer.key, pointer.view, str(location.path), [owner])
    plan.files.extend(manifests.values())
    plan.registry.extend(registry.values())
    if scope == "system":
        check_system_host(target, host)
    return plan


def check_system_host(target: TargetOS, host: PurePath) -> None:
    """Refuse a host for every user that another user could change (its path, interpreter, package).

    Only on this machine's own file system: under a fake root (a staging tree) owners mean nothing yet, and
    Windows guards Program Files with ACLs this check does not read.
    """
    if not target.is_local or target.root is not None or target.is_windows:
        return
    from .trust import program_problems

    problems = program_problems(str(host))
    if problems:
        raise UntrustedHost(str(host), problems)


class UntrustedHost(DeployError):
    """A system install refused: another user could change the host or what it runs."""

    code = "untrusted_host"

    def __init__(self, host: str, problems: list) -> None:
        first = problems[0]
        fix_path = first.path if first.owner != "?" else host
        super().__init__(
            f"refusing to register {host} for every user: {first.describe()}. Every user's browser would start "
            "it, so no one but root may be able to change it, its interpreter or its package. Fix: install "
            "tracker2fa where only root can write (the Debian package `tracker2fa pack --deb` builds, or "
            "`sudo python3 -m venv /opt/tracker2fa && sudo /opt/tracker2fa/bin/pip install tracker2fa-*.whl`, "
            "then `sudo /opt/tracker2fa/bin/tracker2fa install --system`), or make root own it: "
            f"`sudo chown root:root {shlex.quote(fix_path)} && sudo chmod go-w {shlex.quote(fix_path)}`"
        )
        self.host = host
        self.problems = problems

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "host": self.host,
            "untrusted": [p.to_json() for p in self.problems],
        }
