"""Security-key slots through the real python-fido2 CTAP2 stack and the product's software key (CTAPHID framing)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from native_host.errors import VaultTampered, WrongPassword
from native_host.fido import vault_key
from native_host.fido.errors import Cancelled, FidoError
from native_host.fido.softkey.authenticator import SoftAuthenticator
from native_host.fido.softkey.presence import NeverTouched
from native_host.vault import UnlockedVault, VaultFile
from native_host.vault.format import MAX_SLOTS, header_digest
from native_host.vault.key_slot import NoKeySlot, TooManySlots, WrongSecurityKey
from tests.support.host_key import HostKey
from tests.vault.conftest import PASSWORD

JOIN_SECONDS = 20.0  # a bound for a hung thread, never a timing assertion


@pytest.fixture
def key() -> HostKey:
    return HostKey(name="enrolled")


@pytest.fixture
def enrolled(vault: UnlockedVault, key: HostKey) -> dict:
    """The vault with ``key`` enrolled in a slot named "desk key"; the vault is locked again."""
    slot = vault_key.enrol_in_vault(vault, [key.handle], name="desk key")
    vault.lock()
    return slot


def _rewrite(path: Path, change) -> None:
    doc = json.loads(path.read_bytes())
    change(doc)
    doc["header_sha256"] = header_digest(doc["header"])  # as an attacker would: the checksum recomputed
    path.write_text(json.dumps(doc))


def test_a_vault_enrolled_with_a_key_unlocks_by_touching_it(enrolled, key, vault_path):
    unlocked = vault_key.unlock_vault(VaultFile(vault_path), [key.handle])
    assert [e.issuer for e in unlocked.entries()] == ["Jira"]
    assert [s["name"] for s in unlocked.key_slots()] == ["desk key"]


def test_enrolment_makes_one_non_resident_credential_under_the_vaults_own_rp_id(vault, key):
    vault_key.enrol_in_vault(vault, [key.handle], name="desk key")
    (credential,) = key.store.credentials.values()
    assert credential.rp_id == "tracker2fa-vault.invalid" and not credential.resident


def test_an_unlocked_vault_saves_and_reopens_with_the_key_and_with_the_password(enrolled, key, vault_path):
    from native_host.vault.entry import Entry

    unlocked = vault_key.unlock_vault(VaultFile(vault_path), [key.handle])
    unlocked.add(Entry(secret="JBSWY3DPEHPK3PXP", issuer="GitLab", account="ann"))
    unlocked.lock()
    again = vault_key.unlock_vault(VaultFile(vault_path), [key.handle])
    assert [e.issuer for e in again.entries()] == ["Jira", "GitLab"]
    assert [e.issuer for e in VaultFile(vault_path).unlock(PASSWORD).entries()] == ["Jira", "GitLab"]


def test_another_key_is_a_wrong_security_key_and_changes_nothing(enrolled, vault_path):
    before = vault_path.read_bytes()
    with pytest.raises(WrongSecurityKey) as caught:
        vault_key.unlock_vault(VaultFile(vault_path), [HostKey(name="stranger").handle])
    assert caught.value.code == "wrong_security_key"
    assert vault_path.read_bytes() == before


def _wrong_secrets(right: bytes, slot: dict) -> dict[str, bytes]:
    """Secrets a thief without the key could try: what the file holds, nothing, a guess, a near miss."""
    return {"the slot's own salt": _unb64(slot["salt"]), "zeros": bytes(32), "random": os.urandom(32),
            "one bit off": bytes([right[0] ^ 1]) + right[1:]}


def test_a_key_slot_opens_only_with_the_secret_of_its_own_credential():
    from native_host.vault.key_slot import make_key_slot, unwrap_key_slot

    master, right = os.urandom(32), os.urandom(32)
    slot = make_key_slot(master, credential_id=os.urandom(32), rp_id="tracker2fa-vault.invalid",
                         salt=os.urandom(32), prf_output=right, name="desk key")
    assert unwrap_key_slot(slot, right) == master
    for what, secret in _wrong_secrets(right, slot).items():
        with pytest.raises(VaultTampered):  # a wrap that does not open: never a master key
            unwrap_key_slot(slot, secret)
            pytest.fail(f"the slot opened with {what} as the key's secret")


def test_a_key_holding_the_credential_but_answering_another_secret_does_not_open_the_vault(enrolled, key,
                                                                                           vault_path):
    """The slot's own credential on the key, but another hmac-secret behind it (a copy of the credential id
    on another key): the touch succeeds, the secret is wrong, the wrap does not open and nothing changes."""
    (credential,) = key.store.credentials.values()
    credential.cred_random = os.urandom(32)
    before = vault_path.read_bytes()
    with pytest.raises(VaultTampered):
        vault_key.unlock_vault(VaultFile(vault_path), [key.handle])
    assert vault_path.read_bytes() == before


def test_a_key_slot_edited_without_its_checksum_is_tampering(enrolled, key, vault_path):
    doc = json.loads(vault_path.read_bytes())
    doc["header"]["slots"][1]["name"] = "renamed"
    vault_path.write_text(json.dumps(doc))
    before = vault_path.read_bytes()
    with pytest.raises(VaultTampered):
        vault_key.unlock_vault(VaultFile(vault_path), [key.handle])
    assert vault_path.read_bytes() == before


@pytest.mark.parametrize("field", ["salt", "nonce", "name"])
def test_a_key_slot_edited_with_its_checksum_recomputed_is_tampering(enrolled, key, vault_path, field):
    fresh = {"salt": _b64(os.urandom(32)), "nonce": _b64(os.urandom(12)), "name": "evil"}[field]
    _rewrite(vault_path, lambda doc: doc["header"]["slots"][1].__setitem__(field, fresh))
    before = vault_path.read_bytes()
    with pytest.raises(VaultTampered) as caught:
        vault_key.unlock_vault(VaultFile(vault_path), [key.handle])
    assert caught.value.code == "vault_tampered"
    assert vault_path.read_bytes() == before


def test_a_slot_swapped_for_one_wrapping_another_master_key_fails_the_databases_check(enrolled, key, vault_path):
    from native_host.vault.key_slot import make_key_slot

    def swap(doc):
        old = doc["header"]["slots"][1]
        secret = _secret_for(key, old)
        doc["header"]["slots"][1] = {**make_key_slot(os.urandom(32), credential_id=_unb64(old["credential_id"]),
                                                      rp_id=old["rp_id"], salt=_unb64(old["salt"]),
                                                      prf_output=secret, name=old["name"])}

    _rewrite(vault_path, swap)
    with pytest.raises(VaultTampered):
        vault_key.unlock_vault(VaultFile(vault_path), [key.handle])


def test_removing_the_key_slot_leaves_the_password_working_and_the_key_refused(enrolled, key, vault_path):
    vault = VaultFile(vault_path).unlock(PASSWORD)
    removed = vault.remove_key_slot(enrolled["id"][:6])
    assert removed["id"] == enrolled["id"] and vault.key_slots() == []
    vault.lock()
    assert [e.issuer for e in VaultFile(vault_path).unlock(PASSWORD).entries()] == ["Jira"]
    with pytest.raises(NoKeySlot):
        vault_key.unlock_vault(VaultFile(vault_path), [key.handle])


def test_removing_an_unknown_slot_is_refused_and_changes_nothing(enrolled, vault_path):
    vault = VaultFile(vault_path).unlock(PASSWORD)
    before = vault_path.read_bytes()
    with pytest.raises(NoKeySlot):
        vault.remove_key_slot("ffffffff")
    assert vault_path.read_bytes() == before and len(vault.key_slots()) == 1


def test_a_password_slot_cannot_be_removed_as_a_key_slot(vault, vault_path):
    password_slot_id = json.loads(vault_path.read_bytes())["header"]["slots"][0]["id"]
    with pytest.raises(NoKeySlot):
        vault.remove_key_slot(password_slot_id)


def test_a_password_unlock_still_refuses_a_wrong_password_when_a_key_is_enrolled(enrolled, vault_path):
    with pytest.raises(WrongPassword):
        VaultFile(vault_path).unlock("not the password")


def test_cancel_while_the_key_waits_for_a_touch_ends_the_unlock_cancelled(enrolled, key, vault_path):
    key.authenticator.presence = NeverTouched()
    cancel, touch_asked, outcome = threading.Event(), threading.Event(), {}

    def on_event(name, details):
        if name == "fido.touch":
            touch_asked.set()

    def unlock():
        try:
            vault_key.unlock_vault(VaultFile(vault_path), [key.handle], on_event=on_event, cancel=cancel)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=unlock, daemon=True)
    thread.start()
    assert touch_asked.wait(JOIN_SECONDS), "the key never asked for a touch"
    cancel.set()
    thread.join(JOIN_SECONDS)
    assert not thread.is_alive(), "the unlock did not end on its cancel"
    assert isinstance(outcome["error"], Cancelled)


def test_a_ninth_slot_is_refused_before_the_key_is_asked(vault, key):
    for _ in range(MAX_SLOTS - 1):
        vault.add_key_slot(credential_id=os.urandom(32), rp_id="tracker2fa-vault.invalid", salt=os.urandom(32),
                           secret=os.urandom(32), name="filler")
    with pytest.raises(TooManySlots):
        vault_key.enrol_in_vault(vault, [key.handle], name="one too many")
    assert key.store.credentials == {}


def test_the_same_key_enrolled_twice_unlocks_with_either_slot(vault, key, vault_path):
    vault_key.enrol_in_vault(vault, [key.handle], name="first")
    second = vault_key.enrol_in_vault(vault, [key.handle], name="second")
    vault.remove_key_slot(vault.key_slots()[0]["id"])
    vault.lock()
    unlocked = vault_key.unlock_vault(VaultFile(vault_path), [key.handle])
    assert [s["id"] for s in unlocked.key_slots()] == [second["id"]]


def test_a_password_change_drops_the_key_slots_and_names_them(enrolled, key, vault_path):
    vault = VaultFile(vault_path).unlock(PASSWORD)
    dropped = vault.change_password(PASSWORD, "another long passphrase")
    assert dropped == ["the security-key slot 'desk key' (fido2-prf)"]
    vault.lock()
    with pytest.raises(NoKeySlot):
        vault_key.unlock_vault(VaultFile(vault_path), [key.handle])


def test_a_key_without_hmac_secret_cannot_be_enrolled(vault):
    u2f_only = HostKey(authenticator=SoftAuthenticator(ctap2=False), name="u2f only")
    with pytest.raises(FidoError) as caught:
        vault_key.enrol_in_vault(vault, [u2f_only.handle], name="old key")
    assert caught.value.code == "fido_unsupported"
    assert vault.key_slots() == []


# ---- helpers ---------------------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def _secret_for(key: HostKey, slot: dict) -> bytes:
    from native_host.fido.ceremonies.interaction import HostInteraction
    from native_host.fido.vault_key import _secret

    return _secret(key.handle, slot["rp_id"], _unb64(slot["credential_id"]), _unb64(slot["salt"]), None,
                   HostInteraction(key.handle.id, lambda *a: None, None))


@pytest.mark.parametrize("transport", ["usb", "nfc", "ble"])
def test_enrol_and_unlock_work_over_each_transports_framing(vault, vault_path, transport):
    from tests.fido.helpers import open_key

    handle = open_key(transport, SoftAuthenticator(transports=(transport,)), name="any")
    vault_key.enrol_in_vault(vault, [handle], name=f"{transport} key")
    vault.lock()
    unlocked = vault_key.unlock_vault(VaultFile(vault_path), [handle])
    assert [e.issuer for e in unlocked.entries()] == ["Jira"]


def test_a_key_with_a_pin_set_enrols_and_unlocks_without_its_pin(vault, vault_path):
    import hashlib

    authenticator = SoftAuthenticator()
    authenticator.store.pin_hash = hashlib.sha256(b"4711-pin").digest()[:16]
    key = HostKey(authenticator=authenticator, name="pin key")
    vault_key.enrol_in_vault(vault, [key.handle], name="pin key")  # no PIN provider: never asked
    vault.lock()
    assert [e.issuer for e in vault_key.unlock_vault(VaultFile(vault_path), [key.handle]).entries()] == ["Jira"]
