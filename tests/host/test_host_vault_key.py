"""vault.unlock {"method": "security_key"} through the real host process, with the developer's virtual key."""

from __future__ import annotations

from pathlib import Path

import pytest

from native_host.fido import vault_key
from native_host.fido.discovery import KeyHandle
from native_host.fido.virtual_key import VirtualKey
from native_host.vault import VaultFile
from native_host.vault.entry import Entry

PASSWORD = "correct horse battery staple"
JIRA = "https://jira.example.com"


def _virtual_key(path: Path) -> KeyHandle:
    """The virtual key at ``path`` as this test process sees it (the host opens the same file)."""
    key = VirtualKey(path)
    return KeyHandle.for_device(key.open_device(), "virtual", "virtual key", virtual=True)


@pytest.fixture
def enrolled_env(host_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A vault with one entry and the virtual key at ``vkey.json`` enrolled; the host's env names both."""
    vault = VaultFile(host_env["TRACKER2FA_VAULT"]).create(PASSWORD, kdf_cost="minimum")
    vault.add(Entry(secret="JBSWY3DPEHPK3PXP", issuer="Jira", account="ann", origins=[JIRA]))
    key = _virtual_key(tmp_path / "vkey.json")
    vault_key.enrol_in_vault(vault, [key], name="virtual key")
    key.close()
    vault.lock()
    return dict(host_env, TRACKER2FA_VIRTUAL_KEY=str(tmp_path / "vkey.json"))


def test_the_host_unlocks_the_vault_when_the_enrolled_virtual_key_answers(spawn_host, enrolled_env):
    host = spawn_host(env=enrolled_env)
    assert "vault_security_key" in host.result("hello")["capabilities"]
    unlock = host.request("vault.unlock", {"method": "security_key"})
    assert host.reply_to(unlock)["result"] == {"unlocked": True, "entries": 1}
    selected, unlocked = host.recv(), host.recv()  # the events met on the way, in order
    assert (selected["event"], selected["id"], selected["device"].startswith("virtual:")) == (
        "fido.selected", unlock, True)
    assert unlocked == {"event": "vault.unlocked"}
    assert [e["issuer"] for e in host.result("vault.entries", {"origin": JIRA})["entries"]] == ["Jira"]


def test_a_key_that_is_not_enrolled_is_wrong_security_key_and_the_vault_stays_locked(spawn_host, enrolled_env,
                                                                                   tmp_path):
    env = dict(enrolled_env, TRACKER2FA_VIRTUAL_KEY=str(tmp_path / "another-key.json"))
    host = spawn_host(env=env)
    before = Path(env["TRACKER2FA_VAULT"]).read_bytes()
    assert host.error_code("vault.unlock", {"method": "security_key"}) == "wrong_security_key"
    assert host.result("vault.status")["unlocked"] is False
    assert Path(env["TRACKER2FA_VAULT"]).read_bytes() == before


def test_without_any_key_the_unlock_says_no_device(spawn_host, enrolled_env):
    env = {k: v for k, v in enrolled_env.items() if k != "TRACKER2FA_VIRTUAL_KEY"}
    host = spawn_host(env=env)
    reply = host.call("vault.unlock", {"method": "security_key"})
    assert reply["error"]["code"] == "fido_no_device"


def test_the_password_still_unlocks_a_vault_with_a_key_slot(spawn_host, enrolled_env):
    host = spawn_host(env=enrolled_env)
    assert host.result("vault.unlock", {"password": PASSWORD}) == {"unlocked": True, "entries": 1}


def test_an_unknown_unlock_method_is_bad_request(spawn_host, enrolled_env):
    host = spawn_host(env=enrolled_env)
    assert host.error_code("vault.unlock", {"method": "fingerprint", "password": PASSWORD}) == "bad_request"


def test_a_vault_without_key_slots_says_so(spawn_host, host_env, tmp_path):
    VaultFile(host_env["TRACKER2FA_VAULT"]).create(PASSWORD, kdf_cost="minimum").lock()
    host = spawn_host(env=dict(host_env, TRACKER2FA_VIRTUAL_KEY=str(tmp_path / "vkey.json")))
    assert host.error_code("vault.unlock", {"method": "security_key"}) == "no_key_slot"


def _pin_waiting_create(host, key_file: Path) -> int:
    """A fido.create that holds the virtual key while it waits for its PIN (the key is given one)."""
    import hashlib
    import json

    from fido2.server import Fido2Server

    from native_host.fido.softkey.store import KeyStore

    store = KeyStore.load(key_file)
    store.pin_hash = hashlib.sha256(PIN.encode()).digest()[:16]
    store.save(key_file)
    options, _ = Fido2Server({"id": "localhost", "name": "Mock"}).register_begin(
        {"id": b"bob", "name": "bob"}, user_verification="required")
    create = host.request("fido.create", {"origin": "http://localhost:8000",
                                          "options": json.loads(json.dumps(dict(options.public_key)))})
    assert host.recv()["event"] == "fido.pin_needed"  # the ceremony holds the key, waiting for its PIN
    return create


PIN = "4711-pin"


def test_an_unlock_queued_behind_a_ceremony_on_the_same_key_ends_on_cancel(spawn_host, enrolled_env):
    host = spawn_host(env=enrolled_env)
    create = _pin_waiting_create(host, Path(enrolled_env["TRACKER2FA_VIRTUAL_KEY"]))
    unlock = host.request("vault.unlock", {"method": "security_key"})  # queued behind it on the key
    busy = host.recv()
    assert (busy["event"], busy["id"]) == ("fido.key_busy", unlock)
    assert host.result("cancel", {"target": unlock}) == {"cancelled": True}
    assert host.reply_to(unlock)["error"]["code"] == "fido_cancelled"
    assert host.result("cancel", {"target": create}) == {"cancelled": True}
    assert host.reply_to(create)["error"]["code"] == "fido_cancelled"
    assert host.result("vault.status")["unlocked"] is False


def test_the_host_answers_other_requests_while_an_unlock_waits_for_its_key(spawn_host, enrolled_env):
    host = spawn_host(env=enrolled_env)
    create = _pin_waiting_create(host, Path(enrolled_env["TRACKER2FA_VIRTUAL_KEY"]))
    unlock = host.request("vault.unlock", {"method": "security_key"})
    assert host.recv()["event"] == "fido.key_busy"
    assert host.result("vault.status")["unlocked"] is False  # served meanwhile: the unlock has its own thread
    assert host.result("fido.pin", {"target": create, "pin": PIN}) == {"answered": True}
    assert host.reply_to(create)["result"]["type"] == "public-key"
    assert host.reply_to(unlock)["result"] == {"unlocked": True, "entries": 1}  # then the key served the unlock


@pytest.mark.parametrize(("params", "concurrent"), [
    ({"method": "security_key"}, True), ({"password": "x"}, False), ({"method": "password"}, False),
    ({"method": ["security_key"]}, False), ({"method": {"a": 1}}, False),
])
def test_only_the_security_key_unlock_runs_off_the_ordered_queue(params, concurrent):
    from native_host.api import CONCURRENT_METHODS
    from native_host.protocol import parse_request

    request = parse_request({"id": 1, "method": "vault.unlock", "params": params}, CONCURRENT_METHODS)
    assert request.concurrent is concurrent
