"""Dry-run plans for every OS, browser and scope name the paths and registry keys of reference/browsers.md."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from native_host import HOST_NAME
from native_host.cli import main as cli_main
from native_host.deploy.registration import install

M = f"{HOST_NAME}.json"
LINUX_USER = {
    "chromium": f"/home/user/.config/chromium/NativeMessagingHosts/{M}",
    "chrome": f"/home/user/.config/google-chrome/NativeMessagingHosts/{M}",
    "chrome-beta": f"/home/user/.config/google-chrome-beta/NativeMessagingHosts/{M}",
    "chrome-dev": f"/home/user/.config/google-chrome-unstable/NativeMessagingHosts/{M}",
    "edge": f"/home/user/.config/microsoft-edge/NativeMessagingHosts/{M}",
    "brave": f"/home/user/.config/BraveSoftware/Brave-Browser/NativeMessagingHosts/{M}",
    "vivaldi": f"/home/user/.config/vivaldi/NativeMessagingHosts/{M}",
    "firefox": f"/home/user/.mozilla/native-messaging-hosts/{M}",
}
LINUX_SYSTEM = {
    "chromium": [f"/etc/chromium/native-messaging-hosts/{M}"],
    "chrome": [f"/etc/opt/chrome/native-messaging-hosts/{M}"],
    "chrome-beta": [f"/etc/opt/chrome/native-messaging-hosts/{M}"],
    "chrome-dev": [f"/etc/opt/chrome/native-messaging-hosts/{M}"],
    "edge": [f"/etc/opt/edge/native-messaging-hosts/{M}"],
    "brave": [f"/etc/opt/brave/native-messaging-hosts/{M}", f"/etc/opt/chrome/native-messaging-hosts/{M}"],
    "vivaldi": [f"/etc/opt/vivaldi/native-messaging-hosts/{M}"],
    "firefox": [f"/usr/lib/mozilla/native-messaging-hosts/{M}"],  # and /usr/lib64 where it exists (below)
}
AS = "/Users/user/Library/Application Support"
MACOS_USER = {
    "chromium": f"{AS}/Chromium/NativeMessagingHosts/{M}",
    "chrome": f"{AS}/Google/Chrome/NativeMessagingHosts/{M}",
    "chrome-beta": f"{AS}/Google/Chrome Beta/NativeMessagingHosts/{M}",
    "chrome-dev": f"{AS}/Google/Chrome Dev/NativeMessagingHosts/{M}",
    "edge": f"{AS}/Microsoft Edge/NativeMessagingHosts/{M}",
    "brave": f"{AS}/BraveSoftware/Brave-Browser/NativeMessagingHosts/{M}",
    "vivaldi": f"{AS}/Vivaldi/NativeMessagingHosts/{M}",
    "firefox": f"{AS}/Mozilla/NativeMessagingHosts/{M}",
}
MACOS_SYSTEM = {
    "chromium": f"/Library/Application Support/Chromium/NativeMessagingHosts/{M}",
    "chrome": f"/Library/Google/Chrome/NativeMessagingHosts/{M}",
    "edge": f"/Library/Microsoft/Edge/NativeMessagingHosts/{M}",
    "firefox": f"/Library/Application Support/Mozilla/NativeMessagingHosts/{M}",
}
WINDOWS_KEYS = {
    "chromium": ["SOFTWARE\\Chromium"],
    "chrome": ["SOFTWARE\\Google\\Chrome"],
    "chrome-beta": ["SOFTWARE\\Google\\Chrome"],
    "chrome-dev": ["SOFTWARE\\Google\\Chrome"],
    "edge": ["SOFTWARE\\Microsoft\\Edge"],
    "brave": ["SOFTWARE\\BraveSoftware\\Brave-Browser", "SOFTWARE\\Google\\Chrome"],
    "vivaldi": ["SOFTWARE\\Google\\Chrome"],
    "firefox": ["SOFTWARE\\Mozilla"],
}
HOSTS = {
    "linux": "/opt/tracker2fa/bin/tracker2fa-host",
    "macos": "/opt/tracker2fa/bin/tracker2fa-host",
    "windows": "C:\\Program Files\\tracker2fa\\tracker2fa-host.exe",
}


def plan_for(os_name: str, browser: str, system: bool = False, root=None) -> dict:
    """The dry-run plan on an example machine (home /home/user, /Users/user or C:\\Users\\user)."""
    kwargs = {}
    if os_name == "linux":  # this machine's own OS: use a fake root so the example home applies
        import tempfile

        root = Path(tempfile.mkdtemp())
        host = root / HOSTS["linux"].lstrip("/")
        host.parent.mkdir(parents=True)
        host.write_text("#!/bin/sh\n")
        host.chmod(0o755)
        kwargs = {"root": root, "home": "/home/user"}
    plan = install([browser], os_name=os_name, system=system, dry_run=True, host_path=HOSTS[os_name], **kwargs)
    if root is not None:
        shutil.rmtree(root)
    return plan.to_json()


def manifests(plan: dict) -> list[str]:
    return [f["path"] for f in plan["files"] if f["role"] == "manifest"]


@pytest.mark.parametrize("browser", LINUX_USER)
def test_linux_per_user_plan_writes_the_documented_folder(browser):
    assert manifests(plan_for("linux", browser)) == [LINUX_USER[browser]]


@pytest.mark.parametrize("browser", LINUX_SYSTEM)
def test_linux_system_plan_writes_the_documented_folders(browser):
    assert manifests(plan_for("linux", browser, system=True)) == LINUX_SYSTEM[browser]


@pytest.mark.parametrize("browser", MACOS_USER)
def test_macos_per_user_plan_writes_the_documented_folder(browser):
    assert manifests(plan_for("macos", browser)) == [MACOS_USER[browser]]


@pytest.mark.parametrize("browser", MACOS_SYSTEM)
def test_macos_system_plan_writes_the_documented_folder(browser):
    assert manifests(plan_for("macos", browser, system=True)) == [MACOS_SYSTEM[browser]]


@pytest.mark.parametrize("browser", WINDOWS_KEYS)
def test_windows_per_user_plan_sets_hkcu_keys_pointing_to_the_manifest(browser):
    plan = plan_for("windows", browser)
    family = "firefox" if browser == "firefox" else "chromium"
    manifest = f"C:\\Users\\user\\AppData\\Local\\tracker2fa\\NativeMessagingHosts\\{family}\\{M}"
    assert manifests(plan) == [manifest]
    assert [(r["hive"], r["view"], r["key"], r["value"]) for r in plan["registry"]] == [
        ("HKCU", "shared", f"{parent}\\NativeMessagingHosts\\{HOST_NAME}", manifest) for parent in WINDOWS_KEYS[browser]
    ]


@pytest.mark.parametrize("browser", WINDOWS_KEYS)
def test_windows_system_plan_sets_hklm_keys_in_both_registry_views(browser):
    plan = plan_for("windows", browser, system=True)
    family = "firefox" if browser == "firefox" else "chromium"
    manifest = f"C:\\Program Files\\tracker2fa\\NativeMessagingHosts\\{family}\\{M}"
    assert manifests(plan) == [manifest]
    assert [(r["hive"], r["view"], r["key"]) for r in plan["registry"]] == [
        ("HKLM", view, f"{parent}\\NativeMessagingHosts\\{HOST_NAME}")
        for parent in WINDOWS_KEYS[browser]
        for view in ("64", "32")
    ]


def test_windows_system_plan_launches_a_bat_that_points_the_host_at_the_machine_config():
    plan = plan_for("windows", "chrome", system=True)
    launcher = next(f for f in plan["files"] if f["role"] == "launcher")
    assert launcher["path"] == "C:\\Program Files\\tracker2fa\\tracker2fa-host.bat"
    assert launcher["content"].split("\r\n")[-3:] == [
        'set "TRACKER2FA_CONFIG=C:\\Program Files\\tracker2fa\\host.json"',
        '"C:\\Program Files\\tracker2fa\\tracker2fa-host.exe" %*',
        "",
    ]
    manifest = json.loads(next(f for f in plan["files"] if f["role"] == "manifest")["content"])
    assert manifest["path"] == launcher["path"]


def test_linux_system_plan_launches_a_shell_wrapper_with_the_machine_config():
    plan = plan_for("linux", "chromium", system=True)
    launcher = next(f for f in plan["files"] if f["role"] == "launcher")
    assert launcher["path"] == "/usr/local/lib/tracker2fa/tracker2fa-host"
    assert launcher["mode"] == "0755"
    assert launcher["content"].startswith("#!/bin/sh\n")
    assert "TRACKER2FA_CONFIG=/etc/tracker2fa/host.json\n" in launcher["content"]
    assert launcher["content"].endswith('exec /opt/tracker2fa/bin/tracker2fa-host "$@"\n')
    config = next(f for f in plan["files"] if f["role"] == "config")
    assert (config["path"], config["mode"]) == ("/etc/tracker2fa/host.json", "0644")


def test_shared_system_folders_get_one_manifest_for_every_browser_that_reads_them():
    plan = install(
        ["chrome", "chrome-beta", "brave"], os_name="macos", system=True, dry_run=True, host_path=HOSTS["macos"]
    ).to_json()
    shared = next(f for f in plan["files"] if f["path"] == MACOS_SYSTEM["chrome"])
    assert shared["browsers"] == ["chrome", "chrome-beta", "brave"]
    assert manifests(plan) == [MACOS_SYSTEM["chrome"]]


def test_cli_dry_run_json_for_another_os_prints_the_plan_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = cli_main(
        [
            "install",
            "--os",
            "windows",
            "--system",
            "--browser",
            "edge",
            "--dry-run",
            "--json",
            "--host-path",
            HOSTS["windows"],
        ]
    )
    assert code == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["dry_run"] is True
    assert plan["registry"][0]["key"] == f"SOFTWARE\\Microsoft\\Edge\\NativeMessagingHosts\\{HOST_NAME}"
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_to_apply_a_plan_for_another_os(capsys):
    assert cli_main(["install", "--os", "windows", "--host-path", HOSTS["windows"]]) == 1
    assert "add --dry-run" in capsys.readouterr().err


def test_a_plan_for_another_os_needs_the_host_path_on_that_machine(capsys):
    assert cli_main(["install", "--os", "macos", "--dry-run"]) == 1
    assert "--host-path" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("os_name", "path", "why"),
    [
        ("linux", "bin/tracker2fa-host", "must be absolute"),
        ("windows", "tracker2fa-host.exe", "must be absolute"),
        ("linux", "/opt/trасker/tracker2fa-host", "non-ASCII"),
        ("windows", "C:\\Program Files\\50%\\tracker2fa-host.exe", "Windows launcher"),
    ],
)
def test_a_plan_refuses_a_host_path_the_browser_should_not_start(os_name, path, why, capsys):
    code = cli_main(["install", "--os", os_name, "--system", "--browser", "chromium", "--dry-run", "--host-path", path])
    assert code == 1
    assert why in capsys.readouterr().err


def test_linux_system_plan_for_firefox_adds_usr_lib64_on_distributions_that_have_it(tmp_path):
    host = tmp_path / HOSTS["linux"].lstrip("/")
    host.parent.mkdir(parents=True)
    host.write_text("#!/bin/sh\n")
    host.chmod(0o755)
    (tmp_path / "usr/lib64").mkdir(parents=True)
    plan = install(["firefox"], os_name="linux", system=True, dry_run=True, host_path=HOSTS["linux"], root=tmp_path)
    assert manifests(plan.to_json()) == [
        f"/usr/lib/mozilla/native-messaging-hosts/{M}",
        f"/usr/lib64/mozilla/native-messaging-hosts/{M}",
    ]
