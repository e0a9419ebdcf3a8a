"""The host binds an entry only to an origin a site can have (vault.add, vault.bind, vault.update), as the command
line does: a typo is refused with the origin meant; bindings already there may stay."""

from __future__ import annotations

from pathlib import Path

import pytest

PASSWORD = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
JIRA = "https://jira.example.com"


@pytest.fixture
def host(spawn_host, host_env):
    from native_host.vault import VaultFile

    VaultFile(Path(host_env["TRACKER2FA_VAULT"])).create(PASSWORD, kdf_cost="minimum").lock()
    host = spawn_host()
    assert host.result("vault.unlock", {"password": PASSWORD})["unlocked"] is True
    return host


def added(host, origins: list[str]) -> dict:
    return host.result("vault.add", {"entry": {"secret": SECRET, "issuer": "Jira"}, "origins": origins})["entry"]


def test_vault_add_refuses_a_typo_and_says_the_origin_meant(host):
    reply = host.call("vault.add", {"entry": {"secret": SECRET, "issuer": "Jira"}, "origins": ["https://jira..example.com"]})
    assert reply["error"]["code"] == "invalid_origin"
    assert "did you mean https://jira.example.com?" in reply["error"]["message"]
    assert host.result("vault.entries")["entries"] == []


def test_vault_bind_refuses_a_wildcard(host):
    entry = added(host, [])
    reply = host.call("vault.bind", {"id": entry["id"], "origin": "https://*.example.com"})
    assert reply["error"]["code"] == "invalid_origin" and "not a wildcard" in reply["error"]["message"]


def test_vault_update_refuses_a_new_typo_but_keeps_an_origin_already_bound(host, host_env):
    from native_host.vault import VaultFile

    entry = added(host, [JIRA])
    reply = host.call("vault.update", {"id": entry["id"], "origins": [JIRA, "https://wiki.example,com"]})
    assert reply["error"]["code"] == "invalid_origin" and "https://wiki.example.com" in reply["error"]["message"]
    # A binding the rules would refuse today, already in the file, does not block an edit of the others.
    host.result("vault.lock")
    vault = VaultFile(Path(host_env["TRACKER2FA_VAULT"])).unlock(PASSWORD)
    vault.update(entry["id"], origins=[JIRA, "https://old.example.com."])
    vault.lock()
    host.result("vault.unlock", {"password": PASSWORD})
    kept = host.result("vault.update", {"id": entry["id"], "origins": ["https://old.example.com."]})["entry"]
    assert kept["origins"] == ["https://old.example.com."]
