"""``tracker2fa doctor``: find every reason a browser cannot reach the host, and say how to fix each.

For each browser found, per user and system-wide: the manifest (and on Windows the registry key and view
leading to it), its JSON and required fields, its name against its file name, the extension ids it allows
against those the host serves, and the host path it names (absolute, ASCII, exists, executable, current).
Then the effective native-messaging policies, Flatpak/Snap sandboxes, the vault the *browser-started*
host will open (from the browser's own environment, not this shell's), and a loopback ``hello`` with the
host started exactly as the browser starts it. Run as root, or on a manifest that is not the caller's, the
probe starts only this installation's host or a program no other user can change (:mod:`.trust`), with an
environment stripped to where the files are; anything else is reported in ``not_started``, never run.

Longer than our ~400-line guide on purpose: every check writes into one report with its fix, and the
checks read best in the order the browser meets them (layouts, policies and the probe live in their own modules).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from .. import HOST_NAME
from ..config import ConfigError, HostConfig, load_config
from .browsers import BROWSERS, Browser, sandbox_advice
from .layouts import ManifestLocation, custom_profile_location, manifest_locations, system_config_path
from .manifest import DeployError, check_host_path, default_host_path
from .platforms import TargetOS, target_os
from .policies_read import NativePolicies, native_policies
from .probe import browser_environment, probe_argv, probe_host, vault_path_for
from .registration import detect_browsers
from .registry import Registry

# Where the browser's host environment came from when no browser or desktop session could be asked.
SHELL_SOURCE = "this shell"


@dataclass
class Problem:
    subject: str
    problem: str
    fix: str

    def to_json(self) -> dict[str, str]:
        return {"subject": self.subject, "problem": self.problem, "fix": self.fix}


@dataclass
class ManifestCheck:
    browser: str
    scope: str
    path: str
    registry: list[str] = field(default_factory=list)
    present: bool = False
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return vars(self).copy()


@dataclass
class DoctorReport:
    """What the doctor found. ``problems`` empty means the set-up works."""

    os: str
    config_path: str
    allowed_chromium_ids: list[str]
    allowed_firefox_ids: list[str]
    host_path: str
    installed_browsers: list[str]
    manifests: list[ManifestCheck] = field(default_factory=list)
    policies: dict[str, Any] = field(default_factory=dict)
    vault: dict[str, Any] = field(default_factory=dict)
    host_answers: bool | None = None
    # Hosts the doctor would have started but did not: another user could change them (see _probe_guard).
    not_started: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # What is left to do when nothing is broken (a first run: no vault yet); None when there is nothing.
    next_step: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in vars(self).items() if k not in ("manifests", "problems")}
        data["manifests"] = [m.to_json() for m in self.manifests]
        data["problems"] = [p.to_json() for p in self.problems]
        return data


def _install_cmd(browser: str, scope: str, extra: str = "") -> str:
    sudo = "sudo " if scope == "system" else ""
    flag = " --system" if scope == "system" else ""
    return f"{sudo}tracker2fa install --browser {browser}{flag}{extra}"


def check_manifest(
    target: TargetOS, location: ManifestLocation, scope: str, want_ids: list[str], current_host: PurePath | None
) -> tuple[list[Problem], list[str], dict | None]:
    """Problems with one manifest file (which exists), notes, and the parsed manifest if usable."""
    subject = f"{location.browser} ({scope}) {location.path}"
    fix = f"run `{_install_cmd(location.browser, scope)}` to rewrite it"
    disk = target.on_disk(location.path)
    try:
        data = json.loads(disk.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [Problem(subject, f"the manifest is not valid JSON ({exc})", fix)], [], None
    if not isinstance(data, dict):
        return [Problem(subject, "the manifest is not a JSON object", fix)], [], None
    problems: list[Problem] = []
    notes: list[str] = []
    if data.get("name") != disk.stem:
        problems.append(Problem(subject, f"name {data.get('name')!r} does not match the file name {disk.stem!r}", fix))
    if not data.get("description"):
        problems.append(Problem(subject, "no description (Chromium then reports the host as not found)", fix))
    if data.get("type") != "stdio":
        problems.append(Problem(subject, f"type is {data.get('type')!r}, not 'stdio'", fix))
    host = data.get("path")
    if not isinstance(host, str) or not target.is_absolute(host):
        problems.append(Problem(subject, f"the host path {host!r} is not absolute", fix))
    elif not host.isascii():
        problems.append(Problem(subject, f"the host path {host!r} is not ASCII", fix))
    else:
        disk_host = target.on_disk(target.path(host))
        if not disk_host.exists():
            problems.append(Problem(subject, f"the host {host} does not exist (a stale path?)", fix))
        elif not target.is_windows and not os.access(disk_host, os.X_OK):
            problems.append(Problem(subject, f"the host {host} is not executable", f"chmod +x {host}, or {fix}"))
        elif current_host is not None and scope == "user" and target.path(host) != current_host:
            notes.append(f"{subject}: names the host {host}, not this installation's {current_host}; {fix}")
    key = "allowed_extensions" if location.family == "firefox" else "allowed_origins"
    allowed = data.get(key)
    if not isinstance(allowed, list) or not allowed:
        problems.append(Problem(subject, f"no {key}", fix))
    else:
        expected = want_ids if location.family == "firefox" else [f"chrome-extension://{i}/" for i in want_ids]
        missing = [e for e in expected if e not in allowed]
        if missing:
            ids = " ".join(f"--extension-id {i}" for i in want_ids)
            problems.append(
                Problem(
                    subject,
                    f"{key} lacks {', '.join(missing)}, which the host is configured to serve (a wrong id?)",
                    f"run `{_install_cmd(location.browser, scope, ' ' + ids)}`",
                )
            )
    return problems, notes, (data if not problems else None)


def _registry_pointers(
    target: TargetOS, location: ManifestLocation, registry: Registry | None
) -> tuple[list[str], bool, list[str]]:
    """On Windows: the keys found (with their view), whether any leads to this manifest, and mismatches."""
    found, mismatched = [], []
    leads_here = False
    for pointer in location.registry:
        value = registry.get_value(pointer.hive, pointer.key, "", pointer.view) if registry else None
        if value is None:
            continue
        label = f"{pointer.hive}\\{pointer.key} [{pointer.view or 'shared'}]"
        found.append(label)
        if str(value).lower() == str(location.path).lower():
            leads_here = True
        else:
            mismatched.append(f"{label} points to {value}")
    return found, leads_here, mismatched


def doctor(
    *,
    os_name: str | None = None,
    root: Path | None = None,
    home: str | None = None,
    user_data_dir: Path | None = None,
    host_path: Path | None = None,
    browsers: list[str] | None = None,
    probe: bool = True,
    registry: Registry | None = None,
    browser_env: Mapping[str, str] | None = None,
    browser_pid: int | None = None,
    shell_env: Mapping[str, str] | None = None,
    system: bool = False,
) -> DoctorReport:
    """Inspect the set-up on this machine (or a fake ``root``); see the module docstring for the checks.

    ``system``: only the system-wide manifests (what ``install --system`` and the Debian package write).
    """
    target = target_os(os_name, root=root, home=home)
    if target.is_windows and registry is None and target.root is None:
        from .registry import system_registry

        registry = system_registry()
    shell_env = dict(os.environ if shell_env is None else shell_env)
    from .layouts import user_config_path

    report = DoctorReport(target.name, str(user_config_path(target)), [], [], "", [])
    configs = _read_configs(target, report)
    current_host = _locate_host(target, host_path, report)

    found = detect_browsers(target) if target.is_local else []
    names = browsers or ([] if user_data_dir is None else ["chromium"])
    considered = [BROWSERS[n] for n in names] if names else list(BROWSERS.values())
    report.installed_browsers = [b.name for b in found]
    usable: list[tuple[str, Path, HostConfig]] = []  # (family, manifest on disk, its config): passed every check
    for browser in considered:
        is_installed = browser in found or bool(names)
        policies = native_policies(browser, target, registry)
        if policies is not None:
            report.policies[browser.name] = policies.to_json()
        registered = _check_browser(
            target, browser, configs, current_host, user_data_dir, registry, policies, report, usable, system
        )
        if is_installed and not registered:
            # A manifest that is there but unusable (a wrong extension id, another host) has its own problem
            # above: this line must not say there is none.
            present = any(m.present for m in report.manifests if m.browser == browser.name)
            what = "no usable manifest: see above" if present else "no manifest"
            report.problems.append(
                Problem(
                    browser.name,
                    f"the host is not registered ({what})" + (" system-wide" if system else ""),
                    f"run `{_install_cmd(browser.name, 'system' if system else 'user')}`",
                )
            )
        if is_installed and policies is not None:
            _check_extension_policies(browser, policies, configs, report)
        if target.name == "linux":
            snap_bin = target.on_disk(target.path("/snap/bin"))
            report.notes.extend(sandbox_advice(browser, Path(target.on_disk(target.home)), snap_bin))

    _check_vault(
        target,
        report,
        usable,
        considered if names else found or considered,
        browser_env,
        browser_pid,
        shell_env,
        probe,
        current_host,
    )
    return report


def _read_configs(target: TargetOS, report: DoctorReport) -> dict[str, HostConfig]:
    """The host configuration per scope: a system install's launcher points the host at the machine's
    configuration, so its manifests answer to that one."""
    from .layouts import user_config_path

    cfg_path = user_config_path(target)
    try:
        config = load_config(target.on_disk(cfg_path))
        sys_cfg = target.on_disk(system_config_path(target))
        if not target.on_disk(cfg_path).exists() and sys_cfg.exists():
            config = load_config(sys_cfg)
            report.config_path = str(system_config_path(target))
        elif not target.on_disk(cfg_path).exists():
            report.notes.append(f"no host configuration at {cfg_path}: the development extension ids apply")
    except ConfigError as exc:
        report.problems.append(Problem("host configuration", exc.message, "run `tracker2fa install` to rewrite it"))
        config = HostConfig(chromium_extension_ids=[], firefox_extension_ids=[])
    report.allowed_chromium_ids = config.chromium_extension_ids
    report.allowed_firefox_ids = config.firefox_extension_ids
    configs = {"user": config, "system": config}
    sys_cfg = target.on_disk(system_config_path(target))
    if sys_cfg.exists():
        try:
            configs["system"] = load_config(sys_cfg)
        except ConfigError as exc:
            report.problems.append(
                Problem("system host configuration", exc.message, "run `sudo tracker2fa install --system`")
            )
    return configs


def _locate_host(target: TargetOS, host_path: Path | None, report: DoctorReport) -> PurePath | None:
    """The host executable the manifests should name (this package's), or None with a problem reported."""
    try:
        host = host_path or default_host_path()
        current_host = target.path(str(check_host_path(host) if target.root is None else host))
    except DeployError as exc:
        report.host_path = str(host_path or "")
        report.problems.append(Problem("host executable", exc.message, "reinstall the tracker2fa package"))
        return None
    report.host_path = str(current_host)
    return current_host


def _check_extension_policies(browser: Browser, policies: NativePolicies, configs: Mapping[str, HostConfig],
                              report: DoctorReport) -> None:
    """Extension-install policies that keep an extension the host serves from being installed at all."""
    attr = "firefox_extension_ids" if browser.family == "firefox" else "chromium_extension_ids"
    ids = dict.fromkeys([*getattr(configs["user"], attr), *getattr(configs["system"], attr)])
    for ext_id in ids:
        policy = policies.blocks_extension(ext_id)
        if policy:
            report.problems.append(
                Problem(
                    f"{browser.name} policy",
                    f"{policy} (from {policies.sources.get(policy, 'policy')}) keeps the extension {ext_id} "
                    "from being installed",
                    f"ask the admin to allow {ext_id} (ExtensionInstallAllowlist, or ExtensionSettings with "
                    "installation_mode force_installed: `tracker2fa policy` writes that)",
                )
            )
    for unreadable in policies.unreadable:
        report.notes.append(f"{browser.name}: unreadable policy file {unreadable}")


def _check_browser(
    target: TargetOS,
    browser: Browser,
    configs: dict[str, HostConfig],
    current_host: PurePath | None,
    user_data_dir: Path | None,
    registry: Registry | None,
    policies: Any,
    report: DoctorReport,
    usable: list[tuple[str, Path, HostConfig]],
    system: bool = False,
) -> bool:
    """Check every manifest location of ``browser``; True when at least one manifest is usable."""
    if user_data_dir is not None:
        scopes = [("user", [custom_profile_location(browser, target, target.path(str(user_data_dir)))])]
    else:
        scopes = [(s, manifest_locations(browser, target, s)) for s in (("system",) if system else ("user", "system"))]
    usable_scopes = []
    for scope, locations in scopes:
        for location in locations:
            check = ManifestCheck(browser.name, scope, str(location.path))
            report.manifests.append(check)
            if target.is_windows:
                keys, _, mismatched = _registry_pointers(target, location, registry)
                check.registry = keys
                for text in mismatched:
                    check.problems.append(text)
                    report.problems.append(
                        Problem(
                            f"{browser.name} ({scope})",
                            f"registry key {text}, not {location.path}",
                            f"run `{_install_cmd(browser.name, scope)}`",
                        )
                    )
                if not keys:
                    continue
            disk = target.on_disk(location.path)
            if not disk.exists():
                if target.is_windows:
                    problem = f"the registry points to {location.path}, which does not exist"
                    check.problems.append(problem)
                    report.problems.append(
                        Problem(f"{browser.name} ({scope})", problem, f"run `{_install_cmd(browser.name, scope)}`")
                    )
                continue
            check.present = True
            config = configs[scope]
            want = config.firefox_extension_ids if browser.family == "firefox" else config.chromium_extension_ids
            problems, notes, manifest = check_manifest(target, location, scope, want, current_host)
            check.problems.extend(p.problem for p in problems)
            report.problems.extend(problems)
            report.notes.extend(notes)
            if manifest is not None:
                usable_scopes.append(scope)
                usable.append((browser.family, disk, config))
    if policies is None or not usable_scopes:
        return bool(usable_scopes)
    subject = f"{browser.name} policy"
    if policies.blocks_host:
        source = policies.sources.get("NativeMessagingBlocklist", "policy")
        report.problems.append(
            Problem(
                subject,
                f"NativeMessagingBlocklist {policies.blocklist} (from {source}) blocks {HOST_NAME}",
                f"ask the admin to add {HOST_NAME!r} to NativeMessagingAllowlist "
                "(see manifests/ and docs/admin-guide.md)",
            )
        )
    if policies.user_level_hosts is False and "system" not in usable_scopes:
        source = policies.sources.get("NativeMessagingUserLevelHosts", "policy")
        report.problems.append(
            Problem(
                subject,
                f"NativeMessagingUserLevelHosts is false (from {source}): per-user manifests are ignored",
                f"install system-wide: `{_install_cmd(browser.name, 'system')}`",
            )
        )
    return True


def _check_vault(
    target: TargetOS,
    report: DoctorReport,
    usable: list[tuple[str, Path, HostConfig]],
    browsers: list[Browser],
    browser_env: Mapping[str, str] | None,
    browser_pid: int | None,
    shell_env: Mapping[str, str],
    probe: bool,
    current_host: PurePath | None = None,
) -> None:
    """Compare the vault the browser's host opens with this shell's, and probe the host over the protocol."""
    shell_vault = vault_path_for(shell_env, target.name)
    source = "given"
    if browser_env is None and target.root is None and target.name == "linux":
        for browser in browsers:
            env, source = browser_environment(browser, browser_pid, shell_env.get("HOME"))
            if env is not None:
                browser_env = env
                break
    report.vault = {"shell_path": shell_vault, "browser_env_source": source, "browser_path": None, "exists": None}
    env_for_host = dict(browser_env) if browser_env is not None else dict(shell_env)
    if browser_env is None:
        # Said where the vault line is read (its source), not in a note three lines further down.
        report.vault["browser_env_source"] = SHELL_SOURCE
        if shell_env.get("TRACKER2FA_VAULT"):
            report.notes.append(
                "TRACKER2FA_VAULT is set in this shell: a browser started from the desktop may not see it, and "
                "its host would then open the default vault"
            )
    expected_vault = vault_path_for(env_for_host, target.name)
    report.vault["browser_path"] = expected_vault
    if not probe:
        report.host_answers = None
    elif report.problems or not usable:
        report.host_answers = False if usable else None
    else:
        seen: set[tuple[str, str]] = set()
        answers = True
        probed = 0
        for family, manifest_disk, config in usable:
            host_text = json.loads(manifest_disk.read_text())["path"]
            if (family, host_text) in seen:
                continue
            seen.add((family, host_text))
            host_disk = target.on_disk(target.path(host_text))
            guard = _probe_guard(target, manifest_disk, host_disk, current_host)
            if guard is not None:
                report.not_started.append({"program": str(host_disk), "manifest": str(manifest_disk), "reason": guard})
                report.notes.append(
                    f"did not start {host_disk} (named by {manifest_disk}) to test it: {guard}. Run as root (an "
                    "administrator on Windows) or on a profile that is not yours, doctor starts only this "
                    "installation's host or a program no other user can change; run `tracker2fa doctor` as the "
                    "profile's owner to test this one"
                )
                continue
            probed += 1
            argv = probe_argv(family, manifest_disk, config.chromium_extension_ids, config.firefox_extension_ids)
            stripped = _guarded(target, manifest_disk) and hasattr(os, "geteuid")  # POSIX: root's probe
            host_env = probe_environment(env_for_host) if stripped else env_for_host
            status, failure = probe_host(host_disk, argv, host_env)
            if failure:
                answers = False
                report.problems.append(
                    Problem(
                        f"host {host_text} ({family})",
                        failure,
                        "run the host by hand to see its error; reinstall tracker2fa",
                    )
                )
            elif status and status.get("path"):
                expected_vault = status["path"]
                report.vault["browser_path"] = expected_vault
                report.vault["exists"] = status.get("exists")
        report.host_answers = answers if probed else None  # None: every host was one doctor would not start
    if report.vault["exists"] is None:
        report.vault["exists"] = Path(expected_vault).exists() if target.root is None else None
    if os.path.normpath(expected_vault) != os.path.normpath(shell_vault):
        report.problems.append(
            Problem(
                "vault path",
                f"the browser-started host opens {expected_vault} (environment of {source}), but this shell's "
                f"tracker2fa commands use {shell_vault}: you could end up with two vaults",
                f"make both agree: set TRACKER2FA_VAULT={shell_vault} for the desktop session (e.g. in "
                "~/.config/environment.d/tracker2fa.conf, then log out and in) or unset it in this shell",
            )
        )
    elif report.vault["exists"] is False:
        report.next_step = f"create your vault with `tracker2fa vault init` (none at {expected_vault} yet)"


# What a host started by doctor for another user (or by root) keeps of the browser's environment: where the
# vault and the configuration are, and the locale. Never PYTHONPATH, LD_PRELOAD and their kind, which would
# make even this installation's host load another user's code.
_PROBE_ENV_KEEP = ("HOME", "USER", "LOGNAME", "LANG", "TRACKER2FA_VAULT", "TRACKER2FA_CONFIG", "XDG_CONFIG_HOME",
                   "XDG_DATA_HOME", "XDG_RUNTIME_DIR")


def probe_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` reduced to what tells the host where its files are, with the system's PATH."""
    kept = {k: v for k, v in env.items() if k in _PROBE_ENV_KEEP or k.startswith("LC_")}
    kept["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
    return kept


def _elevated_on_windows() -> bool:
    """True when this Windows process runs with an administrator's token (True when that cannot be told)."""
    try:
        import ctypes

        return bool(ctypes.windll.shell32.IsUserAnAdmin())  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return True


def _guarded(target: TargetOS, manifest: Path) -> bool:
    """True when the probe must not trust the manifest's program: doctor runs as root (as an administrator on
    Windows), or the manifest is another user's (a helpdesk checking someone's profile)."""
    if not hasattr(os, "geteuid"):  # Windows: no owner to compare here, so elevation alone decides
        return _elevated_on_windows()
    if target.is_windows:  # a Windows layout read from elsewhere: its programs are not started
        return False
    if os.geteuid() == 0:
        return True
    try:
        return manifest.stat().st_uid != os.geteuid()
    except OSError:
        return True


def _probe_guard(target: TargetOS, manifest: Path, host: Path, current_host: PurePath | None) -> str | None:
    """Why the doctor must not start ``host`` (None when it may): only when guarded, and then only this
    installation's host, or a program that neither another user nor what it runs can be changed by."""
    if not _guarded(target, manifest):
        return None
    if not hasattr(os, "geteuid"):  # Windows gives doctor no owner to check: only this installation's host
        ours = current_host is not None and os.path.normcase(os.path.normpath(host)) == os.path.normcase(
            os.path.normpath(target.on_disk(current_host)))
        return None if ours else (
            f"doctor runs as an administrator and cannot tell who could change {host} on Windows: it starts "
            "only this installation's host"
        )
    from .trust import program_problems

    allowed = frozenset({0, os.geteuid()})
    accepted = [str(target.on_disk(current_host))] if current_host is not None else []
    problems = program_problems(str(host), allowed, accepted=accepted)
    return problems[0].describe() if problems else None
