"""Per-user host registration: install, uninstall, and the doctor that says what is registered and what is wrong.

``install`` writes the host configuration (allowed extension ids) first and then one manifest per
browser, whose allowed ids are exactly the configuration's, so the browser's check and the host's own
caller check always agree.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import DEV_EXTENSION_ID, GECKO_EXTENSION_ID
from ..config import (
    ConfigError,
    HostConfig,
    is_chromium_extension_id,
    is_firefox_extension_id,
    load_config,
    save_config,
)
from .browsers import BROWSERS, Browser, installed_browsers, sandboxed_variants
from .manifest import (
    DeployError,
    check_host_path,
    default_host_path,
    host_manifest,
    manifest_filename,
    manifest_problems,
    write_manifest,
)


@dataclass
class Registration:
    """One manifest written (or removed, or inspected) for one browser."""

    browser: str
    manifest: str
    problems: list[str] = field(default_factory=list)


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


def resolve_browsers(names: list[str], user_data_dir: Path | None) -> list[Browser]:
    """The browsers to act on: those named, else (with --user-data-dir) Chromium, else those installed."""
    from .browsers import get_browser

    check_platform(user_data_dir)
    if names:
        browsers = [get_browser(n) for n in dict.fromkeys(names)]
    elif user_data_dir is not None:
        browsers = [BROWSERS["chromium"]]
    else:
        browsers = installed_browsers()
        if not browsers:
            raise DeployError(
                "no supported browser found (chromium, chrome, edge, brave, vivaldi, firefox); name one with --browser"
            )
    if user_data_dir is not None and any(b.family != "chromium" for b in browsers):
        raise DeployError("--user-data-dir applies to Chromium-family browsers only (Firefox uses ~/.mozilla)")
    return browsers


def check_platform(user_data_dir: Path | None) -> None:
    """Per-user registration knows Linux locations; a custom Chromium profile folder works on macOS too.

    Windows registers hosts in the registry, and the macOS per-user folders are the deployment guide's
    subject: refuse clearly rather than write files no browser reads.
    """
    if sys.platform.startswith("linux"):
        return
    if sys.platform == "darwin" and user_data_dir is not None:
        return
    raise DeployError(
        f"per-user registration is implemented for Linux (and --user-data-dir on macOS), not {sys.platform}; "
        "see docs/protocol.md for the manifest and the locations browsers read"
    )


def manifest_dir(browser: Browser, user_data_dir: Path | None = None) -> Path:
    """Where ``browser`` reads the host manifest: ``DIR/NativeMessagingHosts`` for a custom profile."""
    if user_data_dir is not None:
        return Path(os.path.abspath(user_data_dir)) / "NativeMessagingHosts"
    return browser.user_manifest_dir()


def install(
    browsers: list[str] | None = None,
    *,
    user_data_dir: Path | None = None,
    extension_ids: list[str] | None = None,
    host_path: Path | None = None,
    config_file: Path | None = None,
) -> tuple[list[Registration], Path]:
    """Register the host for ``browsers``; return the manifests written and the config path.

    Extension ids given are added to those already allowed; with none given, the development extension's
    ids are allowed. Every check runs before anything is written.
    """
    targets = resolve_browsers(browsers or [], user_data_dir)
    host = check_host_path(host_path or default_host_path())
    chromium_ids, firefox_ids = split_extension_ids(extension_ids or [])
    if not extension_ids:
        chromium_ids, firefox_ids = [DEV_EXTENSION_ID], [GECKO_EXTENSION_ID]
    from ..config import config_path

    config_file = config_file or config_path()
    try:
        config = load_config(config_file)
    except ConfigError:
        config = None  # a broken configuration is replaced, not merged
    if config is None or not config_file.exists():  # a first install allows exactly the ids asked for
        auto_lock = config.auto_lock_seconds if config else HostConfig().auto_lock_seconds
        config = HostConfig([], [], auto_lock, config_file)
    config.chromium_extension_ids = list(dict.fromkeys([*config.chromium_extension_ids, *chromium_ids]))
    config.firefox_extension_ids = list(dict.fromkeys([*config.firefox_extension_ids, *firefox_ids]))
    manifests = []
    for browser in targets:
        ids = config.firefox_extension_ids if browser.family == "firefox" else config.chromium_extension_ids
        if not ids:
            raise DeployError(f"no {browser.family} extension id is allowed; pass --extension-id for {browser.name}")
        manifests.append((browser, host_manifest(browser.family, host, ids)))
    saved = save_config(config, config_file)
    written = [Registration(b.name, str(write_manifest(manifest_dir(b, user_data_dir), m))) for b, m in manifests]
    return written, saved


def uninstall(browsers: list[str] | None = None, *, user_data_dir: Path | None = None) -> list[Registration]:
    """Remove the host manifest for ``browsers`` (default: every supported browser); return those removed."""
    from .browsers import get_browser

    if browsers:
        targets = [get_browser(n) for n in dict.fromkeys(browsers)]
    elif user_data_dir is not None:
        targets = [BROWSERS["chromium"]]
    else:
        targets = list(BROWSERS.values())
    removed = []
    for browser in targets:
        path = manifest_dir(browser, user_data_dir) / manifest_filename()
        if path.exists():
            path.unlink()
            removed.append(Registration(browser.name, str(path)))
    return removed


@dataclass
class DoctorReport:
    """What the doctor found. ``problems`` empty means the set-up works."""

    config_path: str
    allowed_chromium_ids: list[str]
    allowed_firefox_ids: list[str]
    host_path: str
    registrations: list[Registration]
    installed_browsers: list[str]
    vault_path: str | None
    vault_exists: bool
    host_answers: bool | None
    notes: list[str]
    problems: list[str]

    def to_json(self) -> dict:
        return asdict(self)


def probe_host(host: Path, extension_id: str = DEV_EXTENSION_ID, timeout: float = 20.0) -> str | None:
    """Start the host as Chromium would and ask ``hello``; None if it answers, else what went wrong."""
    body = b'{"id":1,"method":"hello"}'
    try:
        proc = subprocess.run(
            [str(host), f"chrome-extension://{extension_id}/"],
            input=struct.pack("=I", len(body)) + body,
            capture_output=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the host did not start or answer: {exc}"
    out = proc.stdout
    if len(out) < 4:
        return f"the host gave no reply (exit status {proc.returncode}): {proc.stderr.decode(errors='replace')[-300:]}"
    (length,) = struct.unpack("=I", out[:4])
    try:
        reply = json.loads(out[4 : 4 + length])
    except ValueError:
        return "the host's reply is not JSON (something else writes to its stdout)"
    if "result" not in reply:
        return f"the host refused hello: {reply.get('error', {}).get('message', reply)}"
    return None


def doctor(*, user_data_dir: Path | None = None, host_path: Path | None = None, probe: bool = True) -> DoctorReport:
    """Inspect the per-user set-up of every supported browser (or of one custom Chromium profile)."""
    problems: list[str] = []
    notes: list[str] = []
    from ..config import config_path

    cfg_path = config_path()
    try:
        config = load_config()
        if not cfg_path.exists():
            notes.append(f"no host configuration at {cfg_path}: the development extension ids apply")
    except ConfigError as exc:
        problems.append(exc.message)
        config = HostConfig(chromium_extension_ids=[], firefox_extension_ids=[])

    host = host_path or default_host_path()
    try:
        host = check_host_path(host)
    except DeployError as exc:
        problems.append(exc.message)

    found = installed_browsers()
    targets = [BROWSERS["chromium"]] if user_data_dir is not None else list(BROWSERS.values())
    registrations = []
    for browser in targets:
        path = manifest_dir(browser, user_data_dir) / manifest_filename()
        ids = config.firefox_extension_ids if browser.family == "firefox" else config.chromium_extension_ids
        issues = manifest_problems(path, browser.family)
        registrations.append(Registration(browser.name, str(path), issues))
        is_installed = browser in found or user_data_dir is not None
        if issues and is_installed:
            problems.extend(f"{browser.name}: {issue} ({path})" for issue in issues)
        elif not issues:
            # Allowed by the host but not by this manifest: the browser refuses those extensions first.
            unlisted = manifest_problems(path, browser.family, ids)
            notes.extend(f"{browser.name}: {issue}; re-run `tracker2fa install` to add them" for issue in unlisted)
        notes.extend(sandboxed_variants(browser))

    try:
        from ..vault import default_vault_path

        vault_path: str | None = str(default_vault_path())
    except Exception as exc:  # the vault package is optional for the doctor's other checks
        vault_path = None
        notes.append(f"cannot locate the vault ({type(exc).__name__})")
    vault_exists = bool(vault_path) and Path(vault_path).exists()
    if vault_path and not vault_exists:
        notes.append(f"no vault at {vault_path} yet: create one with `tracker2fa vault init`")

    answers = False
    if probe and not problems:
        failure = probe_host(
            host, config.chromium_extension_ids[0] if config.chromium_extension_ids else DEV_EXTENSION_ID
        )
        answers = failure is None
        if failure:
            problems.append(failure)

    return DoctorReport(
        config_path=str(cfg_path),
        allowed_chromium_ids=config.chromium_extension_ids,
        allowed_firefox_ids=config.firefox_extension_ids,
        host_path=str(host),
        registrations=registrations,
        installed_browsers=[b.name for b in found],
        vault_path=vault_path,
        vault_exists=vault_exists,
        host_answers=answers,
        notes=notes,
        problems=problems,
    )
