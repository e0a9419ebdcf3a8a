"""vault.status lists the vault's security-key slots (id and name only), through the real host process, so
that the popup offers "Unlock with security key" only when a key is enrolled."""

from __future__ import annotations

import json
from pathlib import Path

from native_host.fido import vault_key
from native_host.fido.discovery import KeyHandle
from native_host.fido.virtual_key import VirtualKey
from native_host.vault import VaultFile

PASSWORD = "correct horse battery staple"


def _enrol(vault_path: str, key_file: Path, name: str) -> dict:
    """Enrol the virtual key at ``key_file`` in the vault (what `vault key add` does); the new slot."""
    key = KeyHandle.for_device(VirtualKey(key_file).open_device(), "virtual", "virtual key", virtual=True)
    vault = VaultFile(vault_path).unlock(PASSWORD)
    try:
        return vault_key.enrol_in_vault(vault, [key], name=name)
    finally:
        key.close()
        vault.lock()


def test_without_a_vault_there_are_no_security_keys_to_offer(spawn_host):
    status = spawn_host().result("vault.status")
    assert (status["exists"], status["security_keys"]) == (False, None)


def test_a_vault_without_a_key_slot_lists_none(spawn_host, host_env):
    VaultFile(host_env["TRACKER2FA_VAULT"]).create(PASSWORD, kdf_cost="minimum").lock()
    assert spawn_host().result("vault.status")["security_keys"] == []


def test_enrolled_keys_are_listed_by_id_and_name_and_nothing_else(spawn_host, host_env, tmp_path):
    vault_path = host_env["TRACKER2FA_VAULT"]
    VaultFile(vault_path).create(PASSWORD, kdf_cost="minimum").lock()
    first = _enrol(vault_path, tmp_path / "first.json", "office key")
    second = _enrol(vault_path, tmp_path / "second.json", "spare key")
    host = spawn_host()
    reply = host.call("vault.status")
    assert reply["result"]["security_keys"] == [{"id": first["id"], "name": "office key"},
                                                {"id": second["id"], "name": "spare key"}]
    text = json.dumps(reply)
    for slot in (first, second):  # what unwraps the master key, or finds the credential, never leaves the host
        for field in ("key", "salt", "credential_id", "nonce"):
            assert slot[field] not in text, field
    assert host.result("vault.unlock", {"password": PASSWORD})["unlocked"] is True
    assert host.result("vault.status")["security_keys"] == reply["result"]["security_keys"]  # unlocked: the same


def test_a_key_enrolled_while_the_host_runs_is_listed_at_the_next_status(spawn_host, host_env, tmp_path):
    vault_path = host_env["TRACKER2FA_VAULT"]
    VaultFile(vault_path).create(PASSWORD, kdf_cost="minimum").lock()
    host = spawn_host()
    assert host.result("vault.status")["security_keys"] == []
    slot = _enrol(vault_path, tmp_path / "vkey.json", "new key")  # `vault key add` in another process
    assert host.result("vault.status")["security_keys"] == [{"id": slot["id"], "name": "new key"}]
    vault = VaultFile(vault_path).unlock(PASSWORD)
    vault.remove_key_slot(slot["id"])  # `vault key remove`
    vault.lock()
    assert host.result("vault.status")["security_keys"] == []


def test_a_damaged_vault_lists_no_security_keys_and_status_still_answers(spawn_host, host_env):
    Path(host_env["TRACKER2FA_VAULT"]).write_text("{not a vault")
    status = spawn_host().result("vault.status")
    assert (status["exists"], status["security_keys"]) == (True, None)
