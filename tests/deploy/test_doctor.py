"""`tracker2fa doctor` finds each breakage it claims to, names the fix, and exits non-zero.

Each test installs for real under a fake root (or a temp HOME), breaks one thing, and checks the doctor
reports that thing, for that reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from native_host import DEV_EXTENSION_ID, GECKO_EXTENSION_ID, HOST_NAME
from native_host.cli import main as cli_main
from native_host.deploy.doctor import doctor
from native_host.deploy.registration import install, uninstall
from native_host.deploy.registry import FakeRegistry

from .conftest import host_executable

HOST = "/opt/tracker2fa/bin/tracker2fa-host"
HOME = "/home/user"
M = f"{HOST_NAME}.json"
CHROMIUM_USER = f"home/user/.config/chromium/NativeMessagingHosts/{M}"
FIREFOX_USER = f"home/user/.mozilla/native-messaging-hosts/{M}"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A fake Linux machine with Chromium and Firefox profiles and the host installed in /opt."""
    root = tmp_path / "root"
    host = root / HOST.lstrip("/")
    host.parent.mkdir(parents=True)
    shutil.copy2(host_executable(), host)
    (root / "home/user/.config/chromium").mkdir(parents=True)
    (root / "home/user/.mozilla").mkdir(parents=True)
    return root


def env_for(tmp_path: Path, vault: str | None = None) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path / "realhome")}
    env["TRACKER2FA_VAULT"] = vault or str(tmp_path / "vault.json")
    env["TRACKER2FA_CONFIG"] = str(tmp_path / "root" / "home/user/.config/tracker2fa/host.json")
    return env


def run_doctor(root: Path, tmp_path: Path, probe: bool = True, **kw):
    env = env_for(tmp_path)
    kw.setdefault("browser_env", env)
    kw.setdefault("shell_env", env)
    return doctor(os_name="linux", root=root, home=HOME, host_path=Path(HOST), probe=probe, **kw)


def installed(root: Path, browsers=("chromium", "firefox"), system=False) -> None:
    install(list(browsers), os_name="linux", root=root, home=HOME, host_path=HOST, system=system)


def problems(report) -> str:
    return "\n".join(f"{p.subject}: {p.problem} => {p.fix}" for p in report.problems)


def edit_manifest(root: Path, rel: str, **changes) -> None:
    path = root / rel
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(json.dumps(data))


def test_a_fresh_install_is_healthy_and_the_host_answers_as_each_browser_starts_it(root, tmp_path):
    installed(root)
    report = run_doctor(root, tmp_path)
    assert report.problems == []
    assert report.host_answers is True
    assert report.vault["browser_path"] == str(tmp_path / "vault.json")
    present = {(m.browser, m.scope) for m in report.manifests if m.present}
    assert present == {("chromium", "user"), ("firefox", "user")}


def test_an_installed_browser_without_a_manifest_is_reported_with_the_install_command(root, tmp_path):
    installed(root, ["firefox"])
    report = run_doctor(root, tmp_path, probe=False)
    assert [(p.subject, p.problem, p.fix) for p in report.problems] == [
        ("chromium", "the host is not registered (no manifest)", "run `tracker2fa install --browser chromium`")
    ]


def test_a_missing_host_is_reported(root, tmp_path):
    installed(root)
    (root / HOST.lstrip("/")).unlink()
    report = run_doctor(root, tmp_path, probe=False)
    assert f"the host {HOST} does not exist" in problems(report)


def test_a_host_that_is_not_executable_is_reported_with_chmod(root, tmp_path):
    installed(root)
    (root / HOST.lstrip("/")).chmod(0o644)
    text = problems(run_doctor(root, tmp_path, probe=False))
    assert f"the host {HOST} is not executable => chmod +x {HOST}" in text


def test_a_stale_path_to_an_old_host_is_reported(root, tmp_path):
    installed(root)
    edit_manifest(root, CHROMIUM_USER, path="/home/user/old-venv/bin/tracker2fa-host")
    text = problems(run_doctor(root, tmp_path, probe=False))
    assert "the host /home/user/old-venv/bin/tracker2fa-host does not exist (a stale path?)" in text


def test_a_manifest_naming_another_existing_host_is_noted(root, tmp_path):
    installed(root)
    other = root / "usr/bin/tracker2fa-host"
    other.parent.mkdir(parents=True)
    shutil.copy2(root / HOST.lstrip("/"), other)
    edit_manifest(root, CHROMIUM_USER, path="/usr/bin/tracker2fa-host")
    report = run_doctor(root, tmp_path, probe=False)
    assert any("names the host /usr/bin/tracker2fa-host, not this installation's" in n for n in report.notes)


def test_a_wrong_extension_id_is_reported_with_the_id_to_install(root, tmp_path):
    installed(root)
    edit_manifest(root, CHROMIUM_USER, allowed_origins=[f"chrome-extension://{'b' * 32}/"])
    text = problems(run_doctor(root, tmp_path, probe=False))
    assert f"allowed_origins lacks chrome-extension://{DEV_EXTENSION_ID}/" in text
    assert f"--extension-id {DEV_EXTENSION_ID}" in text


def test_a_wrong_firefox_add_on_id_is_reported_with_the_id_to_install(root, tmp_path):
    installed(root)
    edit_manifest(root, FIREFOX_USER, allowed_extensions=["someone-else@example.org"])
    text = problems(run_doctor(root, tmp_path, probe=False))
    assert f"firefox (user) /{FIREFOX_USER}: allowed_extensions lacks {GECKO_EXTENSION_ID}," in text
    assert f"--extension-id {GECKO_EXTENSION_ID}" in text


def test_an_unusable_manifest_is_not_called_missing(root, tmp_path):
    installed(root)
    edit_manifest(root, CHROMIUM_USER, allowed_origins=[f"chrome-extension://{'b' * 32}/"])
    text = problems(run_doctor(root, tmp_path, probe=False))
    assert "chromium: the host is not registered (no usable manifest: see above)" in text
    assert "(no manifest)" not in text


def test_broken_json_is_reported(root, tmp_path):
    installed(root)
    (root / FIREFOX_USER).write_text('{"name": "dev.tracker2fa.host",')
    text = problems(run_doctor(root, tmp_path, probe=False))
    assert "the manifest is not valid JSON" in text
    assert "tracker2fa install --browser firefox" in text


def test_a_missing_description_is_reported(root, tmp_path):
    installed(root)
    edit_manifest(root, CHROMIUM_USER, description=None)
    assert "no description (Chromium then reports the host as not found)" in problems(
        run_doctor(root, tmp_path, probe=False)
    )


def test_a_name_that_does_not_match_the_file_is_reported(root, tmp_path):
    installed(root)
    edit_manifest(root, FIREFOX_USER, name="dev.tracker2fa.other")
    assert "name 'dev.tracker2fa.other' does not match the file name 'dev.tracker2fa.host'" in problems(
        run_doctor(root, tmp_path, probe=False)
    )


def _policy(root: Path, data: dict) -> Path:
    path = root / "etc/chromium/policies/managed/org.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_a_blocklist_policy_is_reported_with_its_file_and_the_allowlist_fix(root, tmp_path):
    installed(root)
    _policy(root, {"NativeMessagingBlocklist": ["*"]})
    report = run_doctor(root, tmp_path, probe=False)
    text = problems(report)
    assert "NativeMessagingBlocklist ['*'] (from /etc/chromium/policies/managed/org.json)" in text
    assert f"add '{HOST_NAME}' to NativeMessagingAllowlist" in text
    assert report.policies["chromium"]["NativeMessagingBlocklist"] == ["*"]


def test_a_blocklist_with_our_host_on_the_allowlist_is_fine(root, tmp_path):
    installed(root)
    _policy(root, {"NativeMessagingBlocklist": ["*"], "NativeMessagingAllowlist": [HOST_NAME]})
    assert run_doctor(root, tmp_path, probe=False).problems == []


def test_user_level_hosts_disabled_by_policy_is_reported_for_a_per_user_install(root, tmp_path):
    installed(root)
    _policy(root, {"NativeMessagingUserLevelHosts": False})
    text = problems(run_doctor(root, tmp_path, probe=False))
    assert "NativeMessagingUserLevelHosts is false" in text
    assert "sudo tracker2fa install --browser chromium --system" in text


def test_user_level_hosts_disabled_is_fine_with_a_system_install(root, tmp_path):
    installed(root, ["chromium"], system=True)
    installed(root, ["firefox"])
    _policy(root, {"NativeMessagingUserLevelHosts": False})
    assert run_doctor(root, tmp_path, probe=False).problems == []


def test_a_vault_path_set_only_in_the_shell_is_reported_as_a_mismatch(root, tmp_path):
    installed(root)
    shell = env_for(tmp_path, vault=str(tmp_path / "shell-vault.json"))
    browser = env_for(tmp_path)
    report = run_doctor(root, tmp_path, shell_env=shell, browser_env=browser)
    text = problems(report)
    assert report.host_answers is True
    assert f"the browser-started host opens {tmp_path / 'vault.json'}" in text
    assert f"this shell's tracker2fa commands use {tmp_path / 'shell-vault.json'}" in text
    assert "environment.d" in text


def test_a_host_that_writes_other_output_to_stdout_fails_the_loopback_test(root, tmp_path):
    installed(root)
    host = root / HOST.lstrip("/")
    host.write_text("#!/bin/sh\necho starting tracker2fa\n")
    text = problems(run_doctor(root, tmp_path))
    assert "something else writes to stdout" in text


def test_a_host_that_refuses_the_extension_fails_the_loopback_test(root, tmp_path):
    installed(root)
    config = root / "home/user/.config/tracker2fa/host.json"
    data = json.loads(config.read_text())
    env = env_for(tmp_path)
    env["TRACKER2FA_CONFIG"] = str(tmp_path / "other-config.json")  # the browser's host reads another config
    (tmp_path / "other-config.json").write_text(json.dumps({**data, "chromium_extension_ids": ["c" * 32]}))
    report = run_doctor(root, tmp_path, browser_env=env)
    assert report.host_answers is False
    assert "the host gave no reply" in problems(report), problems(report)
    assert "not allowed" in problems(report), problems(report)


def test_flatpak_browsers_are_noted(root, tmp_path):
    installed(root)
    (root / "home/user/.var/app/org.chromium.Chromium").mkdir(parents=True)
    report = run_doctor(root, tmp_path, probe=False)
    assert any("Flatpak Chromium (org.chromium.Chromium)" in n for n in report.notes)


def test_windows_registry_pointing_to_a_missing_manifest_is_reported_with_its_view(tmp_path):
    root = tmp_path / "root"
    exe = root / "C/Program Files/tracker2fa/tracker2fa-host.exe"
    exe.parent.mkdir(parents=True)
    exe.write_bytes(b"MZ")
    registry = FakeRegistry()
    exe_path = "C:\\Program Files\\tracker2fa\\tracker2fa-host.exe"
    kw = {"os_name": "windows", "root": root, "home": "C:\\Users\\user", "registry": registry}
    install(["edge"], system=True, host_path=exe_path, **kw)
    (root / "C/Program Files/tracker2fa/NativeMessagingHosts/chromium" / M).unlink()
    report = doctor(browsers=["edge"], host_path=Path(exe_path), probe=False, shell_env={}, browser_env={}, **kw)
    edge = [m for m in report.manifests if m.scope == "system"]
    key = f"HKLM\\SOFTWARE\\Microsoft\\Edge\\NativeMessagingHosts\\{HOST_NAME}"
    assert edge[0].registry == [f"{key} [64]", f"{key} [32]"]
    assert "the registry points to C:\\Program Files\\tracker2fa\\NativeMessagingHosts\\chromium" in problems(report)


def test_windows_blocklist_policy_in_the_registry_is_reported(tmp_path):
    registry = FakeRegistry()
    registry.set_value("HKLM", "SOFTWARE\\Policies\\Google\\Chrome\\NativeMessagingBlocklist", "1", "*")
    root = tmp_path / "root"
    exe = root / "C/Program Files/tracker2fa/tracker2fa-host.exe"
    exe.parent.mkdir(parents=True)
    exe.write_bytes(b"MZ")
    exe_path = "C:\\Program Files\\tracker2fa\\tracker2fa-host.exe"
    kw = {"os_name": "windows", "root": root, "home": "C:\\Users\\user", "registry": registry}
    install(["chrome"], host_path=exe_path, **kw)
    report = doctor(browsers=["chrome"], host_path=Path(exe_path), probe=False, shell_env={}, browser_env={}, **kw)
    assert "NativeMessagingBlocklist ['*'] (from HKLM\\SOFTWARE\\Policies\\Google\\Chrome)" in problems(report)


# -- the command line, on this machine (temp HOME)


def test_doctor_cli_exits_1_and_prints_each_problem_with_its_fix(home, tmp_path, capsys):
    profile = tmp_path / "profile"
    assert cli_main(["install", "--user-data-dir", str(profile)]) == 0
    edit_manifest(profile, f"NativeMessagingHosts/{M}", description=None)
    capsys.readouterr()
    assert cli_main(["doctor", "--user-data-dir", str(profile), "--no-probe"]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM: chromium (user)" in out
    assert "no description" in out
    assert "    fix: run `tracker2fa install --browser chromium` to rewrite it" in out


def test_doctor_cli_reads_the_vault_path_from_the_browser_process_environment(home, tmp_path, capsys):
    profile = tmp_path / "profile"
    assert cli_main(["install", "--user-data-dir", str(profile)]) == 0
    # A stand-in for a browser started from the desktop, where TRACKER2FA_VAULT was never set.
    browser_env = {k: v for k, v in os.environ.items() if k != "TRACKER2FA_VAULT"}
    proc = subprocess.Popen(["sleep", "60"], env=browser_env)
    try:
        capsys.readouterr()
        code = cli_main(["doctor", "--user-data-dir", str(profile), "--browser-pid", str(proc.pid), "--json"])
    finally:
        proc.kill()
        proc.wait()
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["vault"]["browser_env_source"] == f"the running chromium (pid {proc.pid})"
    assert report["vault"]["browser_path"] == str(home / ".local/share/tracker2fa/vault.json")
    assert report["vault"]["shell_path"] == str(tmp_path / "vault.json")
    assert [p["subject"] for p in report["problems"]] == ["vault path"]


def test_system_manifests_are_checked_against_the_machines_host_configuration(root, tmp_path):
    other = "c" * 32
    install(["chromium"], os_name="linux", root=root, home=HOME, host_path=HOST, system=True, extension_ids=[other])
    installed(root, ["firefox"])  # a per-user configuration exists too, with the development ids
    report = run_doctor(root, tmp_path, probe=False)
    assert report.problems == []
    edit_manifest(
        root, f"etc/chromium/native-messaging-hosts/{M}", allowed_origins=[f"chrome-extension://{DEV_EXTENSION_ID}/"]
    )
    assert f"allowed_origins lacks chrome-extension://{other}/" in problems(run_doctor(root, tmp_path, probe=False))


@pytest.mark.parametrize("system", [False, True], ids=["per-user", "system"])
@pytest.mark.parametrize(
    "browser", ["chromium", "chrome", "chrome-beta", "chrome-dev", "edge", "brave", "vivaldi", "firefox"]
)
def test_doctor_finds_each_browsers_fresh_install_healthy_and_its_removal(root, tmp_path, browser, system):
    installed(root, [browser], system=system)
    report = run_doctor(root, tmp_path, probe=False, browsers=[browser])
    assert report.problems == []
    scope = "system" if system else "user"
    assert {m.scope for m in report.manifests if m.present} == {scope}
    uninstall([browser], os_name="linux", root=root, home=HOME, system=system)
    after = run_doctor(root, tmp_path, probe=False, browsers=[browser])
    assert [p.problem for p in after.problems] == ["the host is not registered (no manifest)"]


def test_the_generated_linux_policy_lets_the_host_through_an_admins_blocklist(root, tmp_path):
    from native_host.deploy.managed_schema import load_schema
    from native_host.deploy.policy import PolicyRequest, policy_files

    installed(root, ["chromium"], system=True)
    _policy(root, {"NativeMessagingBlocklist": ["*"]})
    assert "blocks dev.tracker2fa.host" in problems(run_doctor(root, tmp_path, probe=False, browsers=["chromium"]))
    request = PolicyRequest("linux", "chromium", DEV_EXTENSION_ID, "https://x.example/updates.xml", {})
    (policy,) = policy_files(request, load_schema())
    (root / "etc/chromium/policies/managed/tracker2fa.json").write_text(policy.content)
    assert run_doctor(root, tmp_path, probe=False, browsers=["chromium"]).problems == []


def test_the_generated_windows_reg_lets_the_host_through_an_admins_blocklist(tmp_path):
    from native_host.deploy.managed_schema import load_schema
    from native_host.deploy.policy import PolicyRequest, policy_files
    from native_host.deploy.regfile import parse

    registry = FakeRegistry()
    registry.set_value("HKLM", "SOFTWARE\\Policies\\Google\\Chrome\\NativeMessagingBlocklist", "1", "*")
    root = tmp_path / "root"
    exe = root / "C/Program Files/tracker2fa/tracker2fa-host.exe"
    exe.parent.mkdir(parents=True)
    exe.write_bytes(b"MZ")
    exe_path = "C:\\Program Files\\tracker2fa\\tracker2fa-host.exe"
    kw = {"os_name": "windows", "root": root, "home": "C:\\Users\\user", "registry": registry}
    install(["chrome"], system=True, host_path=exe_path, **kw)
    request = PolicyRequest("windows", "chrome", DEV_EXTENSION_ID, None, {"autoFill": True})
    reg = next(p for p in policy_files(request, load_schema()) if p.name.endswith(".reg"))
    for key in parse(reg.content):  # what `reg import` does
        for name, value in key.values.items():
            registry.set_value(key.hive, key.path, name, value, "64")
    report = doctor(browsers=["chrome"], host_path=Path(exe_path), probe=False, shell_env={}, browser_env={}, **kw)
    assert report.problems == []
    assert report.policies["chrome"]["NativeMessagingAllowlist"] == [HOST_NAME]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HOME": "/h"}, "/h/.local/share/tracker2fa/vault.json"),
        ({"HOME": "/h", "XDG_DATA_HOME": "/data"}, "/data/tracker2fa/vault.json"),
        ({"HOME": "/h", "TRACKER2FA_VAULT": "~/v.json"}, "/h/v.json"),
    ],
)
def test_the_vault_path_the_doctor_predicts_is_the_one_the_vault_package_uses(monkeypatch, env, expected):
    from native_host.deploy.probe import vault_path_for
    from native_host.vault import default_vault_path

    for name in ("HOME", "XDG_DATA_HOME", "TRACKER2FA_VAULT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert vault_path_for(env) == expected == str(default_vault_path())


@pytest.mark.parametrize(
    ("policy", "culprit"),
    [
        ({"ExtensionInstallBlocklist": ["*"]}, "ExtensionInstallBlocklist"),
        ({"ExtensionInstallBlocklist": [DEV_EXTENSION_ID]}, "ExtensionInstallBlocklist"),
        ({"ExtensionSettings": {"*": {"installation_mode": "blocked"}}}, "ExtensionSettings"),
        ({"ExtensionSettings": {DEV_EXTENSION_ID: {"installation_mode": "removed"}}}, "ExtensionSettings"),
    ],
)
def test_a_policy_that_keeps_the_extension_out_is_reported(root, tmp_path, policy, culprit):
    installed(root, ["chromium"])
    _policy(root, policy)
    text = problems(run_doctor(root, tmp_path, probe=False, browsers=["chromium"]))
    assert f"{culprit} (from /etc/chromium/policies/managed/org.json) keeps the extension {DEV_EXTENSION_ID}" in text


@pytest.mark.parametrize(
    "policy",
    [
        {"ExtensionInstallBlocklist": ["*"], "ExtensionInstallAllowlist": [DEV_EXTENSION_ID]},
        {
            "ExtensionSettings": {
                "*": {"installation_mode": "blocked"},
                DEV_EXTENSION_ID: {"installation_mode": "allowed"},
            }
        },
        {
            "ExtensionInstallBlocklist": ["*"],
            "ExtensionSettings": {
                DEV_EXTENSION_ID: {"installation_mode": "force_installed", "update_url": "https://x"}
            },
        },
    ],
)
def test_a_blocklist_with_the_extension_allowed_is_fine(root, tmp_path, policy):
    installed(root, ["chromium"])
    _policy(root, policy)
    assert run_doctor(root, tmp_path, probe=False, browsers=["chromium"]).problems == []


def test_a_firefox_policy_that_blocks_every_add_on_is_reported(root, tmp_path):
    installed(root, ["firefox"])
    policies = root / "etc/firefox/policies/policies.json"
    policies.parent.mkdir(parents=True)
    policies.write_text(json.dumps({"policies": {"ExtensionSettings": {"*": {"installation_mode": "blocked"}}}}))
    text = problems(run_doctor(root, tmp_path, probe=False, browsers=["firefox"]))
    assert (
        "ExtensionSettings (from /etc/firefox/policies/policies.json) keeps the extension tracker2fa@tracker2fa.dev"
        in text
    )


def test_the_generated_firefox_policy_is_fine_with_the_doctor(root, tmp_path):
    from native_host import GECKO_EXTENSION_ID
    from native_host.deploy.managed_schema import load_schema
    from native_host.deploy.policy import PolicyRequest, policy_files

    installed(root, ["firefox"])
    request = PolicyRequest("linux", "firefox", GECKO_EXTENSION_ID, "https://x.example/t.xpi", {"autoFill": True})
    (policy,) = policy_files(request, load_schema())
    target = root / "usr/lib/firefox-esr/distribution/policies.json"
    target.parent.mkdir(parents=True)
    target.write_text(policy.content)
    report = run_doctor(root, tmp_path, probe=False, browsers=["firefox"])
    assert report.problems == []
    assert report.policies["firefox"]["ExtensionSettings"][GECKO_EXTENSION_ID]["installation_mode"] == "force_installed"


def test_doctor_system_looks_only_at_system_manifests_and_names_the_system_fix(root, tmp_path):
    installed(root, ["chromium"])  # per user only
    report = run_doctor(root, tmp_path, probe=False, browsers=["chromium"], system=True)
    assert {m.scope for m in report.manifests} == {"system"}
    assert [(p.problem, p.fix) for p in report.problems] == [
        (
            "the host is not registered (no manifest) system-wide",
            "run `sudo tracker2fa install --browser chromium --system`",
        )
    ]


def test_doctor_system_is_happy_with_a_system_install(root, tmp_path):
    # (The probe through the launcher runs in test_debian_package.py: under a fake root the launcher names
    # target paths that exist only inside it.)
    installed(root, ["chromium", "firefox"], system=True)
    report = run_doctor(root, tmp_path, probe=False, browsers=["chromium", "firefox"], system=True)
    assert report.problems == []
    assert {(m.browser, m.scope) for m in report.manifests if m.present} == {
        ("chromium", "system"),
        ("firefox", "system"),
    }
