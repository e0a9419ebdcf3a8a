"""`uninstall` removes only what an install in that scope writes, whatever the receipt says.

The receipt is a hint that narrows the places the layout gives (manifests, registry keys, the host
configuration, the launcher, the receipt and the folders above them); an item outside them is ignored, and a
receipt owned by another user (`nobody`, a real other uid) is not read at all.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from native_host import HOST_NAME
from native_host.deploy.registration import install, uninstall
from native_host.deploy.registry import FakeRegistry

from .conftest import NOBODY, host_executable, owned_by

HOST = "/opt/tracker2fa/bin/tracker2fa-host"
HOME = "/home/user"
RECEIPT = "etc/tracker2fa/install-receipt.json"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    host = root / HOST.lstrip("/")
    host.parent.mkdir(parents=True)
    shutil.copy2(host_executable(), host)
    (root / "home/user").mkdir(parents=True)
    return root


def system_install(root: Path, browsers=("chromium",)) -> None:
    install(list(browsers), os_name="linux", system=True, root=root, home=HOME, host_path=HOST)


def system_uninstall(root: Path, browsers=None):
    return uninstall(browsers, os_name="linux", system=True, root=root, home=HOME)


def add_to_receipt(root: Path, *items: dict) -> None:
    path = root / RECEIPT
    data = json.loads(path.read_text())
    data["items"].extend(items)
    path.write_text(json.dumps(data))


def test_a_receipt_naming_a_file_outside_the_layout_does_not_get_it_removed(root):
    system_install(root)
    important = root / "etc/important.conf"
    important.write_text("the admin's\n")
    add_to_receipt(root, {"kind": "file", "path": "/etc/important.conf", "browsers": ["chromium"]})
    removal = system_uninstall(root)
    assert important.read_text() == "the admin's\n"
    assert "/etc/important.conf" not in removal.removed
    assert any("ignored /etc/important.conf in the install receipt" in note for note in removal.notes)
    assert not (root / f"etc/chromium/native-messaging-hosts/{HOST_NAME}.json").exists()


def test_a_receipt_naming_a_folder_outside_the_layout_does_not_get_it_removed(root):
    system_install(root)
    (root / "srv/empty").mkdir(parents=True)
    add_to_receipt(root, {"kind": "dir", "path": "/srv/empty", "browsers": ["chromium"]})
    system_uninstall(root)
    assert (root / "srv/empty").is_dir()


def test_a_receipt_owned_by_another_user_naming_a_file_outside_the_layout_leaves_it(root):
    system_install(root)
    important = root / "etc/important.conf"
    important.write_text("the admin's\n")
    add_to_receipt(root, {"kind": "file", "path": "/etc/important.conf", "browsers": ["chromium"]})
    owned_by(root / RECEIPT, NOBODY)
    removal = system_uninstall(root)
    assert important.exists()
    assert any("belongs to nobody, not to root or to you" in note for note in removal.notes)


def test_a_receipt_owned_by_another_user_is_ignored_even_for_places_in_the_layout(root):
    # The host configuration is a place install writes; this one was the admin's before any install.
    config = root / "etc/tracker2fa/host.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"version": 1, "chromium_extension_ids": ["c" * 32], "firefox_extension_ids": []}))
    receipt = root / RECEIPT
    claim = {"kind": "file", "path": "/etc/tracker2fa/host.json", "browsers": ["chromium"]}
    receipt.write_text(json.dumps({"version": 1, "items": [claim]}))
    owned_by(receipt, NOBODY)
    removal = system_uninstall(root, ["chromium"])
    assert config.exists()
    assert receipt.exists()  # another user's file is left as it is
    assert removal.removed == []
    assert any(f"ignored the install receipt {receipt}" in note for note in removal.notes)


def test_an_install_replaces_another_users_receipt_instead_of_merging_it(root):
    receipt = root / RECEIPT
    receipt.parent.mkdir(parents=True)
    claim = {"kind": "file", "path": "/etc/passwd", "browsers": ["chromium"]}
    receipt.write_text(json.dumps({"version": 1, "items": [claim]}))
    owned_by(receipt, NOBODY)
    system_install(root)
    paths = [item["path"] for item in json.loads(receipt.read_text())["items"]]
    assert "/etc/passwd" not in paths


def test_a_receipt_of_ours_still_removes_everything_the_install_wrote(root):
    from .conftest import tree

    before = tree(root)
    system_install(root, ["chromium", "firefox", "brave"])
    removal = system_uninstall(root)
    assert removal.notes == []
    assert tree(root) == before


def test_windows_a_receipt_naming_a_registry_key_outside_the_layout_leaves_it(tmp_path):
    root = tmp_path / "root"
    exe = root / "C/Program Files/tracker2fa/tracker2fa-host.exe"
    exe.parent.mkdir(parents=True)
    exe.write_bytes(b"MZ")
    registry = FakeRegistry()
    registry.set_value("HKLM", "SOFTWARE\\Vendor\\Important", "", "keep", "64")
    kw = {"os_name": "windows", "root": root, "home": "C:\\Users\\user", "registry": registry}
    install(["chrome"], system=True, host_path="C:\\Program Files\\tracker2fa\\tracker2fa-host.exe", **kw)
    path = root / "C/Program Files/tracker2fa/install-receipt.json"
    data = json.loads(path.read_text())
    data["items"].append(
        {"kind": "key", "path": "SOFTWARE\\Vendor\\Important", "hive": "HKLM", "view": "64", "browsers": ["chrome"]}
    )
    path.write_text(json.dumps(data))
    uninstall(["chrome"], system=True, **kw)
    assert registry.get_value("HKLM", "SOFTWARE\\Vendor\\Important", "", "64") == "keep"


def test_with_the_debian_package_present_the_launcher_goes_to_its_folder_and_uninstall_removes_it(root):
    from .conftest import tree

    (root / "usr/lib/tracker2fa").mkdir(parents=True)  # what the Debian package ships
    before = tree(root)
    plan = install(["chromium"], os_name="linux", system=True, root=root, home=HOME, host_path=HOST)
    launcher = next(f for f in plan.files if f.role == "launcher")
    assert str(launcher.path) == "/usr/lib/tracker2fa/tracker2fa-host"
    assert not (root / "usr/local").exists()  # Debian Policy 9.1.2: a package never writes under /usr/local
    system_uninstall(root)
    assert tree(root) == before


def test_uninstall_finds_a_launcher_left_in_the_other_folder(root):
    system_install(root)  # no package: the launcher goes to /usr/local/lib/tracker2fa
    (root / "usr/lib/tracker2fa").mkdir(parents=True)  # the package arrived since
    removal = system_uninstall(root)
    assert "/usr/local/lib/tracker2fa/tracker2fa-host" in removal.removed
    assert not (root / "usr/local/lib/tracker2fa").exists()


def test_root_leaves_a_manifest_in_a_folder_another_user_controls(shared_tmp, home):
    # Root uninstalling a user's custom profile: the user could have made NativeMessagingHosts a symlink to a
    # system folder, so nothing under a folder of theirs is removed; they run uninstall themselves.
    system_hosts = shared_tmp / "system-hosts"
    system_hosts.mkdir(mode=0o755)
    ours = system_hosts / f"{HOST_NAME}.json"
    ours.write_text("{}")
    profile = shared_tmp / "profile"
    profile.mkdir()
    owned_by(profile, NOBODY, 0o755)
    link = profile / "NativeMessagingHosts"
    link.symlink_to(system_hosts)
    owned_by(link, NOBODY)
    removal = uninstall(["chromium"], user_data_dir=str(profile))
    assert ours.exists()
    assert any(f"left {link}/{HOST_NAME}.json: {profile} is owned by nobody" in note for note in removal.notes)
