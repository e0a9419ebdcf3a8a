"""Read the browsers' native-messaging policies where this user can: the doctor's view of what admins set.

Chromium-family policies that decide whether a browser may start the host:

* ``NativeMessagingBlocklist``: host names never started (``"*"``: all of them);
* ``NativeMessagingAllowlist``: host names started even when the blocklist says ``"*"``;
* ``NativeMessagingUserLevelHosts``: ``false`` makes the browser ignore per-user manifests.

Sources: Linux JSON files in ``<policy dir>/managed/`` (and ``recommended/``, which managed overrides);
Windows ``HKLM`` then ``HKCU`` ``SOFTWARE\\Policies\\<vendor>``; macOS ``/Library/Managed Preferences``.
"""

from __future__ import annotations

import json
import plistlib
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from .. import HOST_NAME
from .browsers import Browser
from .platforms import TargetOS
from .registry import Registry

# Per browser: Linux policy folder, Windows policy key, macOS preference domain.
POLICY_HOMES: dict[str, tuple[str, str, str]] = {
    "chrome": ("/etc/opt/chrome/policies", "SOFTWARE\\Policies\\Google\\Chrome", "com.google.Chrome"),
    "chrome-beta": ("/etc/opt/chrome/policies", "SOFTWARE\\Policies\\Google\\Chrome", "com.google.Chrome.beta"),
    "chrome-dev": ("/etc/opt/chrome/policies", "SOFTWARE\\Policies\\Google\\Chrome", "com.google.Chrome.dev"),
    "chromium": ("/etc/chromium/policies", "SOFTWARE\\Policies\\Chromium", "org.chromium.Chromium"),
    "edge": ("/etc/opt/edge/policies", "SOFTWARE\\Policies\\Microsoft\\Edge", "com.microsoft.Edge"),
    "brave": ("/etc/brave/policies", "SOFTWARE\\Policies\\BraveSoftware\\Brave", "com.brave.Browser"),
    "vivaldi": ("/etc/opt/vivaldi/policies", "SOFTWARE\\Policies\\Vivaldi", "com.vivaldi.Vivaldi"),
}

NATIVE_POLICIES = ("NativeMessagingAllowlist", "NativeMessagingBlocklist", "NativeMessagingUserLevelHosts")


@dataclass
class NativePolicies:
    """The effective native-messaging policies of one browser, and where each came from."""

    allowlist: list[str] | None = None
    blocklist: list[str] | None = None
    user_level_hosts: bool | None = None
    # The extension policies that can keep the extension itself out.
    install_allowlist: list[str] | None = None
    install_blocklist: list[str] | None = None
    extension_settings: dict[str, Any] | None = None
    sources: dict[str, str] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    @property
    def blocks_host(self) -> bool:
        blocked = bool(self.blocklist) and ("*" in self.blocklist or HOST_NAME in self.blocklist)
        return blocked and HOST_NAME not in (self.allowlist or [])

    def blocks_extension(self, extension_id: str) -> str | None:
        """The policy that keeps ``extension_id`` from being installed, or None (Chromium's precedence)."""
        settings = self.extension_settings or {}
        own = settings.get(extension_id)
        if isinstance(own, dict) and own.get("installation_mode"):
            return "ExtensionSettings" if own["installation_mode"] in ("blocked", "removed") else None
        if extension_id in (self.install_allowlist or []):
            return None
        if extension_id in (self.install_blocklist or []) or "*" in (self.install_blocklist or []):
            return "ExtensionInstallBlocklist"
        default = settings.get("*")
        if isinstance(default, dict) and default.get("installation_mode") in ("blocked", "removed"):
            return "ExtensionSettings"
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "ExtensionInstallAllowlist": self.install_allowlist,
            "ExtensionInstallBlocklist": self.install_blocklist,
            "ExtensionSettings": self.extension_settings,
            "NativeMessagingAllowlist": self.allowlist,
            "NativeMessagingBlocklist": self.blocklist,
            "NativeMessagingUserLevelHosts": self.user_level_hosts,
            "sources": self.sources,
            "unreadable": self.unreadable,
        }


def _take(result: NativePolicies, values: dict[str, Any], source: str) -> None:
    lists = {
        "NativeMessagingAllowlist": "allowlist",
        "NativeMessagingBlocklist": "blocklist",
        "ExtensionInstallAllowlist": "install_allowlist",
        "ExtensionInstallBlocklist": "install_blocklist",
    }
    settings = values.get("ExtensionSettings")
    if isinstance(settings, str):  # the registry holds it as JSON text
        try:
            settings = json.loads(settings)
        except ValueError:
            result.unreadable.append(f"{source}: ExtensionSettings is not valid JSON")
            settings = None
    if isinstance(settings, dict):
        result.extension_settings = settings
        result.sources["ExtensionSettings"] = source
    for policy, attr in lists.items():
        value = values.get(policy)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            setattr(result, attr, list(value))
            result.sources[policy] = source
    value = values.get("NativeMessagingUserLevelHosts")
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        result.user_level_hosts = bool(value)
        result.sources["NativeMessagingUserLevelHosts"] = source


def read_linux(target: TargetOS, folder: str) -> NativePolicies:
    result = NativePolicies()
    for level in ("recommended", "managed"):  # managed last: it wins
        disk = target.on_disk(target.path(folder, level))
        if not disk.is_dir():
            continue
        for file in sorted(disk.glob("*.json")):
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                result.unreadable.append(f"{target.path(folder, level, file.name)}: {exc}")
                continue
            if isinstance(data, dict):
                _take(result, data, str(target.path(folder, level, file.name)))
    return result


def read_windows(registry: Registry, key: str) -> NativePolicies:
    result = NativePolicies()
    for hive in ("HKCU", "HKLM"):  # HKLM last: machine policy wins
        values: dict[str, Any] = dict(registry.values(hive, key))
        for policy in (
            "NativeMessagingAllowlist",
            "NativeMessagingBlocklist",
            "ExtensionInstallAllowlist",
            "ExtensionInstallBlocklist",
        ):
            listed = registry.values(hive, f"{key}\\{policy}")
            if listed:
                values[policy] = [listed[k] for k in sorted(listed, key=lambda k: (len(k), k))]
        _take(result, values, f"{hive}\\{key}")
    return result


def read_macos(target: TargetOS, domain: str, user: str | None) -> NativePolicies:
    result = NativePolicies()
    places = [target.path("/Library/Managed Preferences", f"{domain}.plist")]
    if user:
        places.append(target.path("/Library/Managed Preferences", user, f"{domain}.plist"))
    for place in places:
        disk = target.on_disk(place)
        if not disk.exists():
            continue
        try:
            data = plistlib.loads(disk.read_bytes())
        except (OSError, ValueError, plistlib.InvalidFileException) as exc:
            result.unreadable.append(f"{place}: {exc}")
            continue
        if isinstance(data, dict):
            _take(result, data, str(place))
    return result


def native_policies(browser: Browser, target: TargetOS, registry: Registry | None = None) -> NativePolicies | None:
    """The effective policies for ``browser`` (Firefox: only ``ExtensionSettings``; it has no native-messaging
    policies). None for a browser whose policies are not known here."""
    if browser.family == "firefox":
        return firefox_policies(target, registry)
    homes = POLICY_HOMES.get(browser.name)
    if homes is None:
        return None
    folder, key, domain = homes
    if target.name == "linux":
        return read_linux(target, folder)
    if target.name == "windows":
        return read_windows(registry, key) if registry is not None else NativePolicies()
    return read_macos(target, domain, PurePath(str(target.home)).name)


# Where Firefox reads policies.json: the system folder, and distribution/ beside each usual install.
FIREFOX_POLICY_FILES = {
    "linux": (
        "/etc/firefox/policies/policies.json",
        "/usr/lib/firefox/distribution/policies.json",
        "/usr/lib/firefox-esr/distribution/policies.json",
        "/usr/lib64/firefox/distribution/policies.json",
        "/opt/firefox/distribution/policies.json",
    ),
    "macos": ("/Applications/Firefox.app/Contents/Resources/distribution/policies.json",),
    "windows": (
        "C:\\Program Files\\Mozilla Firefox\\distribution\\policies.json",
        "C:\\Program Files (x86)\\Mozilla Firefox\\distribution\\policies.json",
    ),
}


def firefox_policies(target: TargetOS, registry: Registry | None = None) -> NativePolicies:
    """Firefox's ``ExtensionSettings`` from policies.json files, and Group Policy or the macOS domain."""
    result = NativePolicies()
    for place in FIREFOX_POLICY_FILES[target.name]:
        disk = target.on_disk(target.path(place))
        if not disk.is_file():
            continue
        try:
            data = json.loads(disk.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            result.unreadable.append(f"{place}: {exc}")
            continue
        if isinstance(data, dict) and isinstance(data.get("policies"), dict):
            _take(result, data["policies"], place)
    if target.name == "windows" and registry is not None:
        for hive in ("HKCU", "HKLM"):
            _take(
                result,
                registry.values(hive, "SOFTWARE\\Policies\\Mozilla\\Firefox"),
                f"{hive}\\SOFTWARE\\Policies\\Mozilla\\Firefox",
            )
    elif target.name == "macos":
        macos = read_macos(target, "org.mozilla.firefox", PurePath(str(target.home)).name)
        if macos.extension_settings is not None:
            result.extension_settings = macos.extension_settings
            result.sources["ExtensionSettings"] = macos.sources["ExtensionSettings"]
        result.unreadable.extend(macos.unreadable)
    return result
