"""Real installs and uninstalls under a temporary root, for the Linux, macOS and Windows layouts.

Windows goes through the fake registry; files land under ``<root>/C/...``. Each test compares the whole
tree (and registry) before and after, so "nothing else" is checked, not assumed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from native_host import DEV_EXTENSION_ID, GECKO_EXTENSION_ID, HOST_NAME
from native_host.deploy.browsers import BROWSERS, sandbox_advice
from native_host.deploy.manifest import DeployError
from native_host.deploy.registration import install, uninstall
from native_host.deploy.registry import FakeRegistry

from .conftest import host_executable, tree

ALL = list(BROWSERS)
M = f"{HOST_NAME}.json"
POSIX_HOST = "/opt/tracker2fa/bin/tracker2fa-host"
WINDOWS_HOST = "C:\\Program Files\\tracker2fa\\tracker2fa-host.exe"
HOMES = {"linux": "/home/user", "macos": "/Users/user", "windows": "C:\\Users\\user"}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A fake machine: the host executable installed, a home folder, nothing else."""
    root = tmp_path / "root"
    posix = root / POSIX_HOST.lstrip("/")
    posix.parent.mkdir(parents=True)
    shutil.copy2(host_executable(), posix)
    win = root / "C" / "Program Files" / "tracker2fa" / "tracker2fa-host.exe"
    win.parent.mkdir(parents=True)
    win.write_bytes(b"MZ")
    for home in ("home/user", "Users/user", "C/Users/user"):
        (root / home).mkdir(parents=True)
    return root


def do_install(root: Path, os_name: str, browsers=None, system=False, registry=None, **kw):
    host = WINDOWS_HOST if os_name == "windows" else POSIX_HOST
    return install(
        browsers or ALL,
        os_name=os_name,
        system=system,
        root=root,
        home=HOMES[os_name],
        host_path=kw.pop("host_path", host),
        registry=registry,
        **kw,
    )


def do_uninstall(root: Path, os_name: str, browsers=None, system=False, registry=None):
    return uninstall(browsers, os_name=os_name, system=system, root=root, home=HOMES[os_name], registry=registry)


@pytest.mark.parametrize(("os_name", "system"), [("linux", True), ("linux", False), ("macos", True), ("macos", False)])
def test_install_then_uninstall_every_browser_leaves_the_tree_as_it_was(root, os_name, system):
    before = tree(root)
    plan = do_install(root, os_name, system=system)
    written = tree(root)
    for write in plan.files:
        rel = str(write.path).lstrip("/")
        assert written[rel] == write.content
        assert (root / rel).stat().st_mode & 0o777 == write.mode
    do_uninstall(root, os_name, system=system)
    assert tree(root) == before


@pytest.mark.parametrize("system", [True, False])
def test_windows_install_then_uninstall_leaves_files_and_registry_as_they_were(root, system):
    registry = FakeRegistry()
    registry.set_value("HKLM" if system else "HKCU", "SOFTWARE\\Google\\Chrome\\Other", "", "kept")
    registry_before, files_before = registry.dump(), tree(root)
    plan = do_install(root, "windows", system=system, registry=registry)
    for value in plan.registry:
        assert registry.get_value(value.hive, value.key, "", value.view) == value.value
    manifest = next(f for f in plan.files if f.role == "manifest" and "chromium" in str(f.path))
    assert (root / "C" / str(manifest.path)[3:].replace("\\", "/")).exists()
    do_uninstall(root, "windows", system=system, registry=registry)
    assert registry.dump() == registry_before
    assert tree(root) == files_before


def test_system_install_on_linux_writes_manifests_naming_the_launcher(root):
    do_install(root, "linux", ["chromium", "firefox"], system=True)
    chromium = json.loads((root / "etc/chromium/native-messaging-hosts" / M).read_text())
    firefox = json.loads((root / "usr/lib/mozilla/native-messaging-hosts" / M).read_text())
    assert chromium["path"] == firefox["path"] == "/usr/local/lib/tracker2fa/tracker2fa-host"
    assert chromium["allowed_origins"] == [f"chrome-extension://{DEV_EXTENSION_ID}/"]
    assert firefox["allowed_extensions"] == [GECKO_EXTENSION_ID]
    config = json.loads((root / "etc/tracker2fa/host.json").read_text())
    assert config["chromium_extension_ids"] == [DEV_EXTENSION_ID]


def test_install_twice_changes_nothing(root):
    do_install(root, "linux", system=True)
    first = tree(root)
    do_install(root, "linux", system=True)
    assert tree(root) == first


def test_install_rewrites_a_stale_host_path(root):
    manifest = root / "etc/chromium/native-messaging-hosts" / M
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"name": HOST_NAME, "path": "/old/venv/bin/tracker2fa-host"}))
    do_install(root, "linux", ["chromium"], system=True)
    assert json.loads(manifest.read_text())["path"] == "/usr/local/lib/tracker2fa/tracker2fa-host"


def test_uninstall_of_one_browser_keeps_a_folder_another_still_uses(root):
    do_install(root, "linux", ["chrome", "brave"], system=True)
    removal = do_uninstall(root, "linux", ["brave"], system=True)
    assert (root / "etc/opt/chrome/native-messaging-hosts" / M).exists()  # chrome still reads it
    assert not (root / "etc/opt/brave/native-messaging-hosts" / M).exists()
    assert f"/etc/opt/chrome/native-messaging-hosts/{M}" in removal.kept


def test_uninstall_keeps_folders_that_existed_before_install(root):
    (root / "etc/chromium/native-messaging-hosts").mkdir(parents=True)
    (root / "etc/chromium/native-messaging-hosts/other.json").write_text("{}")
    do_install(root, "linux", ["chromium"], system=True)
    do_uninstall(root, "linux", ["chromium"], system=True)
    assert [p.name for p in (root / "etc/chromium/native-messaging-hosts").iterdir()] == ["other.json"]


def test_uninstall_without_a_receipt_removes_only_our_manifests(root):
    folder = root / "etc/chromium/native-messaging-hosts"
    folder.mkdir(parents=True)
    (folder / M).write_text("{}")  # from an install older than receipts
    (folder / "other.json").write_text("{}")
    removal = do_uninstall(root, "linux", ["chromium"], system=True)
    assert removal.removed == [f"/etc/chromium/native-messaging-hosts/{M}"]
    assert [p.name for p in folder.iterdir()] == ["other.json"]


def test_windows_uninstall_of_brave_keeps_chromes_registry_key(root):
    registry = FakeRegistry()
    do_install(root, "windows", ["chrome", "brave"], system=True, registry=registry)
    do_uninstall(root, "windows", ["brave"], system=True, registry=registry)
    key = f"SOFTWARE\\Google\\Chrome\\NativeMessagingHosts\\{HOST_NAME}"
    assert registry.get_value("HKLM", key, "", "64")
    assert registry.get_value("HKLM", key, "", "32")
    assert not registry.key_exists("HKLM", f"SOFTWARE\\BraveSoftware\\Brave-Browser\\NativeMessagingHosts\\{HOST_NAME}")


def test_install_refuses_a_host_that_is_missing_and_writes_nothing(root):
    before = tree(root)
    with pytest.raises(DeployError, match="does not exist"):
        do_install(root, "linux", system=True, host_path="/opt/nothing/tracker2fa-host")
    assert tree(root) == before


def test_install_refuses_a_host_that_is_not_executable_and_writes_nothing(root):
    (root / POSIX_HOST.lstrip("/")).chmod(0o644)
    before = tree(root)
    with pytest.raises(DeployError, match="not executable"):
        do_install(root, "macos", system=True)
    assert tree(root) == before


def test_windows_refuses_a_host_windows_cannot_start(root):
    (root / "C/tools").mkdir()
    (root / "C/tools/host.py").write_text("")
    with pytest.raises(DeployError, match=r"only \.exe, \.bat"):
        do_install(root, "windows", system=True, registry=FakeRegistry(), host_path="C:\\tools\\host.py")


def test_the_generated_launcher_runs_the_host_with_the_machine_config(root, tmp_path):
    import subprocess

    do_install(root, "linux", ["chromium"], system=True)
    launcher = root / "usr/local/lib/tracker2fa/tracker2fa-host"
    # The launcher names target paths; run a copy pointing at the fake root's files.
    text = launcher.read_text().replace("/etc/", f"{root}/etc/").replace(POSIX_HOST, str(root) + POSIX_HOST)
    runnable = tmp_path / "launcher"
    runnable.write_text(text)
    runnable.chmod(0o755)
    body = b'{"id":1,"method":"hello"}'
    done = subprocess.run(
        [str(runnable), f"chrome-extension://{DEV_EXTENSION_ID}/"],
        input=len(body).to_bytes(4, "little") + body,
        capture_output=True,
        timeout=60,
    )
    assert b'"protocol"' in done.stdout, done.stderr


def test_flatpak_browser_gets_advice_naming_its_sandbox_folder(tmp_path):
    (tmp_path / ".var/app/org.mozilla.firefox").mkdir(parents=True)
    advice = sandbox_advice(BROWSERS["firefox"], tmp_path, snap_bin=tmp_path / "snap")
    assert len(advice) == 1
    assert "~/.var/app/org.mozilla.firefox/.mozilla/native-messaging-hosts" in advice[0]
    assert "flatpak-spawn --host" in advice[0]


def test_snap_firefox_gets_advice_about_the_portal(tmp_path):
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap/firefox").write_text("")
    advice = sandbox_advice(BROWSERS["firefox"], tmp_path, snap_bin=tmp_path / "snap")
    assert "WebExtensions portal" in advice[0]


def test_uninstall_refuses_a_damaged_receipt_and_changes_nothing(root):
    do_install(root, "linux", ["chromium"], system=True)
    receipt = root / "etc/tracker2fa/install-receipt.json"
    receipt.write_text(json.dumps({"version": 1, "items": [None]}))
    before = tree(root)
    with pytest.raises(DeployError, match=r"install-receipt\.json: the install receipt has a malformed item"):
        do_uninstall(root, "linux", system=True)
    assert tree(root) == before


def test_system_install_folders_are_readable_by_every_user_even_under_a_strict_umask(root):
    import os

    old = os.umask(0o077)
    try:
        plan = do_install(root, "linux", ["chromium", "firefox"], system=True)
    finally:
        os.umask(old)
    for write in plan.files:
        path = root / str(write.path).lstrip("/")
        assert path.stat().st_mode & 0o777 == write.mode
        for parent in path.relative_to(root).parents:
            if str(parent) != ".":
                assert (root / parent).stat().st_mode & 0o755 == 0o755, parent


def test_install_tells_about_a_flatpak_browser_and_what_it_needs(root):
    (root / "home/user/.var/app/com.google.Chrome").mkdir(parents=True)
    plan = do_install(root, "linux", ["chromium"])
    assert any("Flatpak Google Chrome (com.google.Chrome)" in note for note in plan.notes)


def test_with_only_a_snap_browser_install_says_why_nothing_was_found(root):
    shutil.rmtree(root / "home/user")
    (root / "home/user").mkdir()
    (root / "snap/bin").mkdir(parents=True)
    (root / "snap/bin/firefox").write_text("")
    with pytest.raises(DeployError, match=r"no supported browser found .* Snap Firefox is present"):
        install(os_name="linux", root=root, home=HOMES["linux"], host_path=POSIX_HOST)


def test_an_install_that_fails_half_way_says_why_and_uninstall_removes_what_it_wrote(root):
    before = tree(root)
    (root / "usr/lib").mkdir(parents=True)
    (root / "usr/lib/mozilla").write_text("a file where a folder should be")
    with pytest.raises(DeployError, match=r"the install stopped: .*usr/lib/mozilla.*tracker2fa uninstall"):
        do_install(root, "linux", ["chromium", "firefox"], system=True)
    assert (root / "etc/chromium/native-messaging-hosts" / M).exists()  # written before the failure
    do_uninstall(root, "linux", system=True)
    (root / "usr/lib/mozilla").unlink()
    (root / "usr/lib").rmdir()
    (root / "usr").rmdir()
    assert tree(root) == before
