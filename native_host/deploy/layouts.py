"""Where each browser reads the host manifest, per OS and per scope, and where tracker2fa keeps its own files.

``scope`` is ``"user"`` (this user's browsers; no admin rights) or ``"system"`` (every user of the machine;
root or Administrator). The answers are paths in the target's syntax (see :mod:`.platforms`); on Windows
they are the manifest file plus the registry keys pointing to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from .. import HOST_NAME
from .browsers import Browser
from .platforms import TargetOS

SCOPES = ("user", "system")
# Where the Debian package (`tracker2fa pack --deb`) puts the host; when it exists, a system install's
# launcher goes there instead of /usr/local/lib/tracker2fa.
DEBIAN_PACKAGE_DIR = "/usr/lib/tracker2fa"


@dataclass(frozen=True)
class RegistryPointer:
    """A registry key whose default value is the manifest's path (Windows)."""

    hive: str  # HKCU or HKLM
    key: str
    view: str | None  # "64", "32", or None (HKCU is shared by both views)


@dataclass(frozen=True)
class ManifestLocation:
    """One manifest file a browser reads, and on Windows the registry keys that lead the browser to it."""

    browser: str
    family: str
    path: PurePath
    registry: tuple[RegistryPointer, ...] = ()


def _hive(scope: str) -> str:
    return "HKLM" if scope == "system" else "HKCU"


def app_dir(target: TargetOS, scope: str) -> PurePath:
    """tracker2fa's own folder for this scope: launchers, Windows manifests, the system host configuration."""
    if target.name == "windows":
        base = target.program_files() if scope == "system" else target.local_app_data()
        return base / "tracker2fa"
    if target.name == "macos":
        base = target.path("/Library/Application Support") if scope == "system" else target.mac_app_support()
        return base / "tracker2fa"
    if scope != "system":
        return target.xdg_data_home() / "tracker2fa"
    if target.is_local and target.on_disk(target.path(DEBIAN_PACKAGE_DIR)).is_dir():
        # The Debian package's own folder: a package must not write under /usr/local (Debian Policy 9.1.2).
        return target.path(DEBIAN_PACKAGE_DIR)
    return target.path("/usr/local/lib/tracker2fa")


def system_config_path(target: TargetOS) -> PurePath:
    """The host configuration a system install writes; its launcher points the host at it."""
    if target.name == "linux":
        return target.path("/etc/tracker2fa/host.json")
    return app_dir(target, "system") / "host.json"


def launcher_path(target: TargetOS, scope: str) -> PurePath:
    """Where a generated launcher goes (a ``.bat`` on Windows, a ``/bin/sh`` script elsewhere)."""
    name = "tracker2fa-host.bat" if target.name == "windows" else "tracker2fa-host"
    return app_dir(target, scope) / name


def launcher_paths(target: TargetOS) -> list[PurePath]:
    """Every place a system install may have put its launcher (both Linux folders: the package may have come
    or gone since)."""
    found = [launcher_path(target, "system")]
    if target.name == "linux":
        for folder in ("/usr/local/lib/tracker2fa", DEBIAN_PACKAGE_DIR):
            path = target.path(folder, "tracker2fa-host")
            if path not in found:
                found.append(path)
    return found


def receipt_path(target: TargetOS, scope: str, user_config: PurePath | None = None) -> PurePath:
    """The record of what an install wrote, read by uninstall (beside the host configuration)."""
    if scope == "system":
        return system_config_path(target).with_name("install-receipt.json")
    assert user_config is not None
    return user_config.with_name("install-receipt.json")


def manifest_locations(browser: Browser, target: TargetOS, scope: str) -> list[ManifestLocation]:
    """Every manifest file ``browser`` reads for ``scope`` on ``target`` (several for some browsers)."""
    name = f"{HOST_NAME}.json"
    if target.name == "windows":
        # One manifest per family in tracker2fa's folder; the registry says where it is.
        path = app_dir(target, scope) / "NativeMessagingHosts" / browser.family / name
        hive = _hive(scope)
        views: tuple[str | None, ...] = ("64", "32") if scope == "system" else (None,)
        pointers = tuple(
            RegistryPointer(hive, f"{parent}\\NativeMessagingHosts\\{HOST_NAME}", view)
            for parent in browser.windows_keys
            for view in views
        )
        return [ManifestLocation(browser.name, browser.family, path, pointers)]
    if scope == "system":
        folders = browser.linux_system if target.name == "linux" else browser.macos_system
        return [ManifestLocation(browser.name, browser.family, target.path(f) / name) for f in folders]
    if target.name == "macos":
        sub = "NativeMessagingHosts"
        folder = target.mac_app_support() / browser.macos_user / sub
    elif browser.family == "firefox":
        folder = target.home / browser.linux_user / "native-messaging-hosts"
    else:
        folder = target.xdg_config_home() / browser.linux_user / "NativeMessagingHosts"
    return [ManifestLocation(browser.name, browser.family, folder / name)]


def custom_profile_location(browser: Browser, target: TargetOS, user_data_dir: PurePath) -> ManifestLocation:
    """A Chromium-family browser started with ``--user-data-dir DIR`` reads ``DIR/NativeMessagingHosts/``."""
    return ManifestLocation(browser.name, browser.family, user_data_dir / "NativeMessagingHosts" / f"{HOST_NAME}.json")


def user_config_path(target: TargetOS) -> PurePath:
    """The per-user host configuration the host reads on ``target`` (``$TRACKER2FA_CONFIG`` on this machine)."""
    if target.root is None and target.is_local:
        from ..config import config_path

        return target.path(str(config_path()))
    if target.name == "windows":
        return target.local_app_data() / "tracker2fa" / "host.json"
    if target.name == "macos":
        return target.mac_app_support() / "tracker2fa" / "host.json"
    return target.xdg_config_home() / "tracker2fa" / "host.json"
