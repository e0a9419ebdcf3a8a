"""Issue 12 item 1 over the real host process: a code given to a site is never offered to it again as fresh."""

from __future__ import annotations

import time
from pathlib import Path

import pyotp
import pytest

PASSWORD = "correct horse battery staple"
JIRA = "https://jira.example.com"
WIKI = "https://wiki.example.com"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def host(spawn_host, host_env):
    from native_host.vault import VaultFile
    from native_host.vault.entry import Entry

    vault = VaultFile(Path(host_env["TRACKER2FA_VAULT"])).create(PASSWORD, kdf_cost="minimum")
    entry = vault.add(Entry(secret=SECRET, issuer="Jira", account="ann", origins=[JIRA, WIKI]))
    vault.lock()
    process = spawn_host()
    process.result("vault.unlock", {"password": PASSWORD})
    process.entry_id = entry.id
    return process


def _fresh_step(host, **extra):
    """A first vault.code reply that is not at the very end of its step (so the second lands in the same)."""
    while time.time() % 30 > 27:
        time.sleep(0.5)
    return host.result("vault.code", {"id": host.entry_id, "origin": JIRA, **extra})


def test_a_second_code_request_within_the_step_says_just_used_and_when_the_next_exists(host):
    first = _fresh_step(host)
    second = host.result("vault.code", {"id": host.entry_id, "origin": JIRA})
    assert first["just_used"] is False
    assert second["just_used"] is True
    assert second["step"] == first["step"]
    assert 1 <= second["next_in"] <= 30


def test_the_memory_is_per_origin(host):
    _fresh_step(host)
    other = host.result("vault.code", {"id": host.entry_id, "origin": WIKI})
    assert other["just_used"] is False


def test_ahead_gives_the_next_steps_code_and_remembers_it(host):
    first = _fresh_step(host, ahead=True)
    now_step = int(time.time() // 30)
    assert first["step"] == now_step + 1
    assert first["code"] == pyotp.TOTP(SECRET).at(first["step"] * 30)
    again = host.result("vault.code", {"id": host.entry_id, "origin": JIRA, "ahead": True})
    assert again["just_used"] is True


def test_a_non_boolean_ahead_is_bad_request(host):
    assert host.error_code("vault.code", {"id": host.entry_id, "origin": JIRA, "ahead": "yes"}) == "bad_request"


def test_locking_the_vault_forgets_the_steps_given(host):
    _fresh_step(host)
    host.result("vault.lock")
    host.result("vault.unlock", {"password": PASSWORD})
    assert host.result("vault.code", {"id": host.entry_id, "origin": JIRA})["just_used"] is False
