"""`tracker2fa vault key add | list | remove` and `--security-key`, with the developer's virtual key."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import PASSWORD


@pytest.fixture
def virtual_key(tmp_path, monkeypatch):
    path = tmp_path / "vkey.json"
    monkeypatch.setenv("TRACKER2FA_VIRTUAL_KEY", str(path))
    return path


@pytest.fixture
def enrolled(cli, initialised, virtual_key) -> dict:
    result = cli("key", "add", "--name", "desk key", "--password-stdin", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)["added"]


def test_key_add_enrols_the_key_and_list_shows_it_without_a_password(cli, enrolled):
    listed = cli("key", "list", "--json", stdin="")
    assert listed.code == 0
    assert json.loads(listed.out)["keys"] == [enrolled]
    assert enrolled["name"] == "desk key" and "salt" not in enrolled and "key" not in enrolled


def test_security_key_opens_the_vault_for_a_code_without_a_password(cli, enrolled):
    result = cli("code", "Jira", "--security-key", stdin="")
    assert result.code == 0, result.err
    assert result.out.strip().isdigit()


def test_another_key_is_refused_with_the_wrong_password_exit_code(cli, enrolled, tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKER2FA_VIRTUAL_KEY", str(tmp_path / "another.json"))
    result = cli("list", "--security-key", stdin="")
    assert result.code == 3
    assert "not enrolled" in result.err


def test_key_remove_leaves_the_password_working_and_the_key_refused(cli, enrolled):
    assert cli("key", "remove", enrolled["id"][:8], "--password-stdin").code == 0
    assert json.loads(cli("key", "list", "--json", stdin="").out)["keys"] == []
    assert cli("list", "--password-stdin").code == 0
    refused = cli("list", "--security-key", stdin="")
    assert refused.code == 1 and "no security-key slot" in refused.err


def _credentials(key_file) -> dict:
    from native_host.fido.softkey.store import KeyStore

    return KeyStore.load(key_file).credentials if key_file.exists() else {}


def test_key_add_with_a_wrong_password_enrols_nothing(cli, initialised, virtual_key, vault_path):
    before = vault_path.read_bytes()
    assert cli("key", "add", "--password-stdin", stdin="not the password\n").code == 3
    assert vault_path.read_bytes() == before and _credentials(virtual_key) == {}


def test_key_add_with_an_unprintable_name_is_refused_before_any_touch(cli, initialised, virtual_key, vault_path):
    before = vault_path.read_bytes()
    result = cli("key", "add", "--name", "evil\x1b[2J", "--password-stdin", stdin="")  # never asked
    assert result.code == 1 and "printable" in result.err
    assert vault_path.read_bytes() == before and _credentials(virtual_key) == {}


def test_key_remove_with_a_short_id_is_a_usage_error(cli, enrolled):
    result = cli("key", "remove", "ab", "--password-stdin")
    assert result.code == 2 and "4 characters" in result.err


def test_passwd_drops_the_key_and_says_so(cli, enrolled):
    from tests.cli.conftest import NEW_PASSWORD

    result = cli("passwd", "--password-stdin", stdin=f"{PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.code == 0, result.err
    assert "'desk key'" in result.out and "Add them again" in result.out
    assert json.loads(cli("key", "list", "--json", stdin="").out)["keys"] == []
