"""``tracker2fa install`` / ``uninstall``: register the native host, per user or for the whole machine.

``install`` computes a :class:`~.plan.Plan` (the host configuration with the allowed extension ids, one
manifest per browser whose allowed ids are exactly the configuration's, the registry values on Windows, a
launcher for system installs), checks it, then applies it or returns it unapplied (``dry_run``). The same
code serves this machine and, for review or tests, another OS (``os_name``) under a fake ``root``.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath

from .apply import Removal, apply_plan, uninstall_scope
from .browsers import BROWSERS, Browser, get_browser, installed_browsers, sandbox_advice
from .layouts import receipt_path, user_config_path
from .manifest import DeployError, default_host_path
from .plan import Plan, build_plan
from .platforms import TargetOS, target_os
from .registry import Registry, system_registry

# Per-user data folders under %LOCALAPPDATA% on Windows: their presence means the browser was used here.
WINDOWS_PROFILES = {
    "chromium": "Chromium",
    "chrome": "Google\\Chrome",
    "chrome-beta": "Google\\Chrome Beta",
    "chrome-dev": "Google\\Chrome Dev",
    "edge": "Microsoft\\Edge",
    "brave": "BraveSoftware\\Brave-Browser",
    "vivaldi": "Vivaldi",
    "firefox": "Mozilla\\Firefox",
}


def detect_browsers(target: TargetOS) -> list[Browser]:
    """Browsers found on the target machine (this one, or a fake root laid out like one)."""
    if target.root is None and target.name == "linux":
        return installed_browsers(Path(target.home))
    found = []
    for browser in BROWSERS.values():
        if target.name == "macos":
            places = [target.path("/Applications", browser.macos_app), target.mac_app_support() / browser.macos_user]
        elif target.name == "windows":
            places = [target.local_app_data() / WINDOWS_PROFILES[browser.name]]
        else:
            places = [target.xdg_config_home() / browser.linux_user, target.home / browser.linux_user]
        if any(target.on_disk(p).exists() for p in places):
            found.append(browser)
    return found


def resolve_browsers(names: list[str], target: TargetOS, user_data_dir: PurePath | None) -> list[Browser]:
    """The browsers to act on: those named, else (with --user-data-dir) Chromium, else those found."""
    if names:
        browsers = [get_browser(n) for n in dict.fromkeys(names)]
    elif user_data_dir is not None:
        browsers = [BROWSERS["chromium"]]
    elif not target.is_local:
        browsers = list(BROWSERS.values())  # a plan for another machine: every browser
    else:
        browsers = detect_browsers(target)
        if not browsers:
            sandboxed = " ".join(_sandbox_notes(target))
            raise DeployError(
                f"no supported browser found ({', '.join(BROWSERS)}); name one with --browser"
                + (f". Note: {sandboxed}" if sandboxed else "")
            )
    if user_data_dir is not None and any(b.family != "chromium" for b in browsers):
        raise DeployError("--user-data-dir applies to Chromium-family browsers only (Firefox uses ~/.mozilla)")
    return browsers


def _target(os_name: str | None, root: Path | None, home: str | None) -> TargetOS:
    return target_os(os_name, root=root, home=home)


def _registry(target: TargetOS, registry: Registry | None) -> Registry | None:
    if registry is not None or not target.is_windows:
        return registry
    if target.root is not None:
        raise DeployError("a Windows layout under a fake root needs a fake registry")
    return system_registry()


def _user_data_dir(target: TargetOS, user_data_dir: Path | str | None) -> PurePath | None:
    if user_data_dir is None:
        return None
    text = str(user_data_dir)
    if target.root is None and target.is_local:
        text = os.path.abspath(text)
    if not target.is_absolute(text):
        raise DeployError(f"--user-data-dir must be an absolute path on {target.name}, not {text!r}")
    return target.path(text)


def plan_install(
    browsers: list[str] | None = None,
    *,
    system: bool = False,
    os_name: str | None = None,
    user_data_dir: Path | str | None = None,
    extension_ids: list[str] | None = None,
    host_path: Path | str | None = None,
    root: Path | None = None,
    home: str | None = None,
) -> tuple[Plan, TargetOS]:
    """The checked plan of an install, and the target it is for. Writes nothing."""
    target = _target(os_name, root, home)
    scope = "system" if system else "user"
    if system and user_data_dir is not None:
        raise DeployError("--user-data-dir is a per-user profile; it cannot be combined with --system")
    profile = _user_data_dir(target, user_data_dir)
    targets = resolve_browsers(browsers or [], target, profile)
    if host_path is None:
        if not (target.root is None and target.is_local):
            raise DeployError(f"name the host executable on the {target.name} machine with --host-path")
        host_path = default_host_path()
    host_text = str(host_path)
    if target.root is None and target.is_local and not target.is_absolute(host_text):
        raise DeployError(f"the host path must be absolute, not {host_text!r}")
    plan = build_plan(
        target,
        scope,
        targets,
        host_path=host_text,
        extension_ids=extension_ids,
        user_config_path=user_config_path(target),
        user_data_dir=profile,
    )
    if scope == "user" and profile is None:
        plan.notes.extend(_sandbox_notes(target))
    return plan, target


def _sandbox_notes(target: TargetOS) -> list[str]:
    """Flatpak and Snap browsers on this Linux machine, and what each needs."""
    if target.name != "linux" or not target.is_local:
        return []
    home = Path(target.on_disk(target.home))
    snap_bin = target.on_disk(target.path("/snap/bin"))
    return [note for browser in BROWSERS.values() for note in sandbox_advice(browser, home, snap_bin)]


def install(
    browsers: list[str] | None = None,
    *,
    system: bool = False,
    os_name: str | None = None,
    dry_run: bool = False,
    user_data_dir: Path | str | None = None,
    extension_ids: list[str] | None = None,
    host_path: Path | str | None = None,
    root: Path | None = None,
    home: str | None = None,
    registry: Registry | None = None,
) -> Plan:
    """Register the host; return the plan (applied unless ``dry_run``). Every check runs before any write."""
    plan, target = plan_install(
        browsers,
        system=system,
        os_name=os_name,
        user_data_dir=user_data_dir,
        extension_ids=extension_ids,
        host_path=host_path,
        root=root,
        home=home,
    )
    if dry_run:
        return plan
    if system and target.root is None and target.name != "windows" and os.geteuid() != 0:
        raise DeployError("--system writes to system folders: run it as root (sudo tracker2fa install --system)")
    apply_plan(plan, target, receipt_path(target, plan.scope, user_config_path(target)), _registry(target, registry))
    return plan


def uninstall(
    browsers: list[str] | None = None,
    *,
    system: bool = False,
    os_name: str | None = None,
    user_data_dir: Path | str | None = None,
    root: Path | None = None,
    home: str | None = None,
    registry: Registry | None = None,
) -> Removal:
    """Remove what ``install`` wrote for ``browsers`` (default: every browser), and nothing else."""
    target = _target(os_name, root, home)
    profile = _user_data_dir(target, user_data_dir)
    if browsers:
        targets = [get_browser(n) for n in dict.fromkeys(browsers)]
    elif profile is not None:
        targets = [BROWSERS["chromium"]]
    else:
        targets = list(BROWSERS.values())
    return uninstall_scope(
        target,
        "system" if system else "user",
        targets,
        user_config_path=user_config_path(target),
        user_data_dir=profile,
        registry=_registry(target, registry),
    )
