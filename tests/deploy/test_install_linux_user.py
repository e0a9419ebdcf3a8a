"""`tracker2fa install / uninstall / doctor`: per-user manifests that browsers accept, and refusals."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from native_host import DEV_EXTENSION_ID, GECKO_EXTENSION_ID, HOST_NAME
from native_host.cli import main as cli_main
from tests.host.conftest import HostProcess

from .conftest import host_executable

OTHER_ID = "b" * 32


def run_cli(*args: str) -> int:
    return cli_main(list(args))


def read_manifest(directory: Path) -> dict:
    return json.loads((directory / f"{HOST_NAME}.json").read_text())


def test_install_with_user_data_dir_writes_a_chromium_manifest_there(home, tmp_path):
    profile = tmp_path / "profile"
    assert run_cli("install", "--user-data-dir", str(profile)) == 0
    manifest = read_manifest(profile / "NativeMessagingHosts")
    assert manifest["name"] == HOST_NAME
    assert manifest["description"]
    assert manifest["type"] == "stdio"
    assert manifest["allowed_origins"] == [f"chrome-extension://{DEV_EXTENSION_ID}/"]
    assert os.path.isabs(manifest["path"])
    assert os.access(manifest["path"], os.X_OK)
    assert set(manifest) == {"name", "description", "path", "type", "allowed_origins"}


def test_install_for_firefox_writes_allowed_extensions_under_mozilla(home):
    assert run_cli("install", "--browser", "firefox") == 0
    manifest = read_manifest(home / ".mozilla" / "native-messaging-hosts")
    assert manifest["allowed_extensions"] == [GECKO_EXTENSION_ID]
    assert "allowed_origins" not in manifest


@pytest.mark.parametrize(
    ("browser", "folder"),
    [
        ("chromium", ".config/chromium/NativeMessagingHosts"),
        ("chrome", ".config/google-chrome/NativeMessagingHosts"),
        ("edge", ".config/microsoft-edge/NativeMessagingHosts"),
        ("brave", ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts"),
        ("vivaldi", ".config/vivaldi/NativeMessagingHosts"),
    ],
)
def test_install_writes_each_chromium_family_browser_to_its_per_user_folder(home, browser, folder):
    assert run_cli("install", "--browser", browser) == 0
    assert read_manifest(home / folder)["allowed_origins"] == [f"chrome-extension://{DEV_EXTENSION_ID}/"]


def test_install_records_the_allowed_ids_in_the_host_config(home, tmp_path):
    assert run_cli("install", "--browser", "chromium", "--extension-id", OTHER_ID) == 0
    config = json.loads((tmp_path / "host.json").read_text())
    assert config["chromium_extension_ids"] == [OTHER_ID]
    manifest = read_manifest(home / ".config/chromium/NativeMessagingHosts")
    assert manifest["allowed_origins"] == [f"chrome-extension://{OTHER_ID}/"]


def test_a_second_install_adds_ids_rather_than_replacing_them(home, tmp_path):
    assert run_cli("install", "--browser", "chromium") == 0
    assert run_cli("install", "--browser", "chromium", "--extension-id", OTHER_ID) == 0
    config = json.loads((tmp_path / "host.json").read_text())
    assert config["chromium_extension_ids"] == [DEV_EXTENSION_ID, OTHER_ID]


def test_an_installed_extension_id_is_served_by_the_host(home, tmp_path):
    assert run_cli("install", "--browser", "chromium", "--extension-id", OTHER_ID) == 0
    host = HostProcess([f"chrome-extension://{OTHER_ID}/"], dict(os.environ), tmp_path)
    try:
        assert host.result("hello")["protocol"] == 1
    finally:
        host.kill()


def _executable_copy(directory: Path) -> Path:
    directory.mkdir(parents=True)
    target = directory / "tracker2fa-host"
    shutil.copy2(host_executable(), target)
    return target


def test_install_refuses_a_non_ascii_host_path_and_writes_nothing(home, tmp_path):
    host = _executable_copy(tmp_path / "trасker")  # Cyrillic 'с': a homoglyph
    profile = tmp_path / "profile"
    assert run_cli("install", "--user-data-dir", str(profile), "--host-path", str(host)) != 0
    assert not profile.exists()
    assert not (tmp_path / "host.json").exists()


def test_install_refuses_a_host_that_is_not_executable(home, tmp_path):
    host = _executable_copy(tmp_path / "bin")
    host.chmod(0o644)
    profile = tmp_path / "profile"
    assert run_cli("install", "--user-data-dir", str(profile), "--host-path", str(host)) != 0
    assert not profile.exists()


def test_install_refuses_a_missing_host(home, tmp_path):
    profile = tmp_path / "profile"
    assert run_cli("install", "--user-data-dir", str(profile), "--host-path", str(tmp_path / "nope")) != 0
    assert not profile.exists()


def test_install_refuses_a_malformed_extension_id(home, tmp_path):
    profile = tmp_path / "profile"
    assert run_cli("install", "--user-data-dir", str(profile), "--extension-id", "not an id") != 0
    assert not profile.exists()


def test_install_refuses_an_unknown_browser(home, capsys):
    assert run_cli("install", "--browser", "netscape") != 0
    assert "supported" in capsys.readouterr().err


def test_install_refuses_user_data_dir_for_firefox(home, tmp_path):
    assert run_cli("install", "--browser", "firefox", "--user-data-dir", str(tmp_path / "p")) != 0
    assert not (tmp_path / "p").exists()


def test_uninstall_removes_the_manifest(home):
    assert run_cli("install", "--browser", "chromium", "--browser", "firefox") == 0
    assert run_cli("uninstall") == 0
    assert not (home / ".config/chromium/NativeMessagingHosts" / f"{HOST_NAME}.json").exists()
    assert not (home / ".mozilla/native-messaging-hosts" / f"{HOST_NAME}.json").exists()


def test_doctor_is_happy_after_install_and_the_host_answers(home, tmp_path, capsys):
    profile = tmp_path / "profile"
    assert run_cli("install", "--user-data-dir", str(profile)) == 0
    capsys.readouterr()
    assert run_cli("doctor", "--user-data-dir", str(profile), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["problems"] == []
    assert report["host_answers"] is True
    assert report["manifests"][0]["problems"] == []
    assert report["vault"]["browser_path"] == str(tmp_path / "vault.json")


def test_doctor_names_a_manifest_whose_host_has_gone(home, tmp_path, capsys):
    host = _executable_copy(tmp_path / "bin")
    profile = tmp_path / "profile"
    assert run_cli("install", "--user-data-dir", str(profile), "--host-path", str(host)) == 0
    host.unlink()
    capsys.readouterr()
    assert run_cli("doctor", "--user-data-dir", str(profile), "--host-path", host_executable()) == 1
    out = capsys.readouterr().out
    assert "PROBLEM" in out
    assert "does not exist" in out


def test_doctor_names_a_manifest_without_description(home, tmp_path, capsys):
    profile = tmp_path / "profile"
    assert run_cli("install", "--user-data-dir", str(profile)) == 0
    path = profile / "NativeMessagingHosts" / f"{HOST_NAME}.json"
    manifest = json.loads(path.read_text())
    del manifest["description"]
    path.write_text(json.dumps(manifest))
    capsys.readouterr()
    assert run_cli("doctor", "--user-data-dir", str(profile), "--no-probe") == 1
    assert "no description" in capsys.readouterr().out


def test_install_with_user_data_dir_also_works_on_macos(home, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.platform", "darwin")
    assert run_cli("install", "--user-data-dir", str(tmp_path / "profile")) == 0
    assert read_manifest(tmp_path / "profile" / "NativeMessagingHosts")["name"] == HOST_NAME
