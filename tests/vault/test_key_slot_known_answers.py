"""Security-key slots that exist today keep opening: a known-answer vector for the slot's key derivation and
wrap, and a vault file with a key slot, stored in ``tests/vault/data``, that every later version must open.

The stored files were made once, with the code of the commit that added them (a vault with the minimum KDF
cost, two entries and a ``fido2-prf`` slot enrolled with a software key; that key's store beside it). Never
regenerate them: a change that needs new files here is a change that locks users out of their vaults.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from native_host.fido import vault_key
from native_host.fido.softkey.authenticator import SoftAuthenticator
from native_host.fido.softkey.store import KeyStore
from native_host.vault import VaultFile
from native_host.vault.key_slot import unwrap_key_slot
from tests.support.host_key import HostKey

from .conftest import PASSWORD

DATA = Path(__file__).parent / "data"
STORED_VAULT = DATA / "vault-with-key-slot-v1.json"
STORED_KEY = DATA / "vault-with-key-slot-v1.virtual-key.json"  # the software key enrolled in its slot
# The enrolled credential's hmac-secret output for the slot's salt, as the key answered it at enrolment.
STORED_PRF_OUTPUT = bytes.fromhex("87572ab11890be704dd56f1b7c79c9cbea401c66e8fc707bd3e44ecfc4ff4db7")
STORED_ENTRIES = [("Jira", "ann", ["https://jira.example.com"]),
                  ("GitLab", "ann@example.com", ["https://gitlab.example.com"])]

# Fixed PRF output, salt and slot fields → the master key: the KEK is HKDF-SHA256(output, salt, info
# "tracker2fa vault fido2-prf key-encryption key v1"), the wrap AES-256-GCM with the slot as its AAD
# (docs/vault-format.md). Computed once with the code of the commit that added it.
KNOWN_PRF_OUTPUT = bytes(range(0x20, 0x40))
KNOWN_SLOT = {
    "type": "fido2-prf", "id": "0123456789abcdef0123456789abcdef", "name": "known-answer key",
    "credential_id": "YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8=", "rp_id": "tracker2fa-vault.invalid",
    "salt": "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=", "kdf": {"name": "hkdf-sha256"},
    "nonce": "gIGCg4SFhoeIiYqL", "key": "f+7c+koXRoJmiBykvgpjPvqrnrGPtLVdppBZquNEWRf25y21eRjhXG2nbLMauXZ+",
}
KNOWN_MASTER_KEY = bytes(range(32))


@pytest.fixture
def stored_vault(tmp_path: Path) -> Path:
    """A copy of the stored vault (an unlock must never be able to change the checked-in file)."""
    return Path(shutil.copy(STORED_VAULT, tmp_path / "vault.json"))


def _summary(vault) -> list[tuple[str, str, list[str]]]:
    return [(e.issuer, e.account, list(e.origins)) for e in vault.entries()]


def test_the_known_prf_output_unwraps_the_known_slot_to_the_known_master_key():
    assert unwrap_key_slot(dict(KNOWN_SLOT), KNOWN_PRF_OUTPUT) == KNOWN_MASTER_KEY


def test_the_stored_vault_opens_with_its_enrolled_key_through_the_real_ctap2_stack(stored_vault):
    key = HostKey(authenticator=SoftAuthenticator(KeyStore.load(STORED_KEY)), name="stored key")
    unlocked = vault_key.unlock_vault(VaultFile(stored_vault), [key.handle])
    assert _summary(unlocked) == STORED_ENTRIES
    assert [s["name"] for s in unlocked.key_slots()] == ["desk key"]


def test_the_stored_vault_opens_with_the_prf_output_its_key_gave(stored_vault):
    unlocked = VaultFile(stored_vault).unlock_with_security_key(lambda slots: (slots[0], STORED_PRF_OUTPUT))
    assert _summary(unlocked) == STORED_ENTRIES


def test_the_stored_vault_still_opens_with_its_password(stored_vault):
    assert _summary(VaultFile(stored_vault).unlock(PASSWORD)) == STORED_ENTRIES
