"""The file format: round trips, and every kind of damage gives its own error and leaves the file alone."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from native_host.errors import (
    UnsupportedVersion,
    VaultCorrupt,
    VaultError,
    VaultExists,
    VaultNotFound,
    VaultTampered,
    WrongPassword,
)
from native_host.vault import VaultFile
from native_host.vault.entry import Entry, secret_from_bytes
from native_host.vault.format import build_vault, parse_vault

from .conftest import JIRA, PASSWORD

ONE_VAULT = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _rewrite(path: Path, change) -> bytes:
    doc = json.loads(path.read_bytes())
    change(doc)
    data = json.dumps(doc, indent=1).encode()
    path.write_bytes(data)
    return data


def _flip_base64_char(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def _assert_unlock_fails_untouched(path: Path, error: type[VaultError], password: str = PASSWORD) -> None:
    before = path.read_bytes()
    with pytest.raises(error):
        VaultFile(path).unlock(password)
    assert path.read_bytes() == before


def test_a_new_vault_file_is_readable_by_its_owner_only(vault, vault_path):
    assert stat.S_IMODE(vault_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(vault_path.with_name("vault.json.bak").stat().st_mode) == 0o600


def test_the_file_is_versioned_json_without_any_plaintext_secret(vault, vault_path):
    doc = json.loads(vault_path.read_text())
    assert doc["format"] == "tracker2fa-vault" and doc["version"] == 1
    assert doc["header"]["slots"][0]["type"] == "password"
    assert "GEZDGNBV" not in vault_path.read_text() and "Jira" not in vault_path.read_text()


def test_the_wrong_password_is_told_apart_and_changes_nothing(vault, vault_path):
    _assert_unlock_fails_untouched(vault_path, WrongPassword, password="not the password")


def test_a_modified_ciphertext_is_reported_as_tampered(vault, vault_path):
    _rewrite(vault_path, lambda d: d.update(db=_flip_base64_char(d["db"], 10)))
    _assert_unlock_fails_untouched(vault_path, VaultTampered)


def test_a_modified_header_is_reported_as_tampered(vault, vault_path):
    _rewrite(vault_path, lambda d: d["header"]["slots"][0]["kdf"].update(log2_n=11))
    _assert_unlock_fails_untouched(vault_path, VaultTampered)


def test_a_swapped_database_nonce_is_reported_as_tampered_even_with_a_fixed_checksum(vault, vault_path):
    from native_host.vault.format import header_digest

    def forge(doc):
        doc["header"]["nonce"] = _flip_base64_char(doc["header"]["nonce"], 0)
        doc["header_sha256"] = header_digest(doc["header"])  # a forger can recompute a plain digest

    _rewrite(vault_path, forge)
    _assert_unlock_fails_untouched(vault_path, VaultTampered)


def test_a_truncated_file_is_reported_as_corrupt(vault, vault_path):
    vault_path.write_bytes(vault_path.read_bytes()[:-40])
    _assert_unlock_fails_untouched(vault_path, VaultCorrupt)


def test_an_empty_file_is_reported_as_corrupt(vault_path):
    vault_path.parent.mkdir(parents=True)
    vault_path.write_bytes(b"")
    _assert_unlock_fails_untouched(vault_path, VaultCorrupt)


def test_a_vault_from_a_newer_version_asks_for_an_upgrade(vault, vault_path):
    _rewrite(vault_path, lambda d: d.update(version=2))
    _assert_unlock_fails_untouched(vault_path, UnsupportedVersion)


def test_a_missing_vault_is_reported_as_not_found(tmp_path):
    with pytest.raises(VaultNotFound):
        VaultFile(tmp_path / "nothing.json").unlock(PASSWORD)


def test_creating_over_an_existing_vault_is_refused_and_changes_nothing(vault, vault_path):
    before = vault_path.read_bytes()
    with pytest.raises(VaultExists):
        VaultFile(vault_path).create("another password", kdf_cost="minimum")
    assert vault_path.read_bytes() == before


def test_an_argon2id_vault_opens_with_its_password(tmp_path):
    path = tmp_path / "argon.json"
    VaultFile(path).create(PASSWORD, kdf="argon2id", kdf_cost="minimum").lock()
    assert json.loads(path.read_text())["header"]["slots"][0]["kdf"]["name"] == "argon2id"
    assert VaultFile(path).unlock(PASSWORD).entries() == []


def test_a_slot_added_from_outside_is_detected_as_tampering(vault, vault_path):
    from native_host.vault.format import header_digest

    def add_slot(doc):
        doc["header"]["slots"].append(_well_formed_key_slot())
        doc["header_sha256"] = header_digest(doc["header"])  # even with the checksum recomputed

    _rewrite(vault_path, add_slot)
    _assert_unlock_fails_untouched(vault_path, VaultTampered)  # the header is the database's AAD


def _well_formed_key_slot() -> dict:
    from native_host.vault.key_slot import make_key_slot

    return make_key_slot(os.urandom(32), credential_id=os.urandom(32), rp_id="tracker2fa-vault.invalid",
                         salt=os.urandom(32), prf_output=os.urandom(32), name="attacker's key")


def test_a_security_key_slot_written_by_the_vault_is_skipped_by_password_unlock(vault, vault_path):
    vault.add_key_slot(credential_id=os.urandom(32), rp_id="tracker2fa-vault.invalid", salt=os.urandom(32),
                       secret=os.urandom(32), name="key")
    reopened = VaultFile(vault_path).unlock(PASSWORD)
    assert [e.issuer for e in reopened.entries()] == ["Jira"]


def test_absurd_kdf_parameters_are_refused_before_any_work(vault, vault_path):
    from native_host.vault.format import header_digest

    def huge(doc):
        doc["header"]["slots"][0]["kdf"]["log2_n"] = 40
        doc["header_sha256"] = header_digest(doc["header"])

    _rewrite(vault_path, huge)
    _assert_unlock_fails_untouched(vault_path, VaultCorrupt)


entry_strategy = st.builds(
    Entry,
    secret=st.binary(min_size=10, max_size=64).map(secret_from_bytes),
    kind=st.sampled_from(["totp", "hotp", "steam"]),
    issuer=st.text(max_size=40),
    account=st.text(max_size=40),
    algorithm=st.sampled_from(["SHA1", "SHA256", "SHA512"]),
    digits=st.integers(6, 8),
    period=st.integers(1, 600),
    counter=st.integers(0, 2**40),
    origins=st.lists(st.sampled_from([JIRA, "https://wiki.example.com", "http://localhost:8080"]), unique=True),
    backup_codes=st.lists(st.fixed_dictionaries({"code": st.from_regex(r"[0-9]{8}", fullmatch=True),
                                                 "used": st.booleans()}), max_size=4),
    note=st.text(max_size=30),
)


@ONE_VAULT
@given(entries=st.lists(entry_strategy, max_size=8))
def test_any_entries_survive_a_save_and_unlock_unchanged(tmp_path_factory, entries):
    path = tmp_path_factory.mktemp("roundtrip") / "vault.json"
    VaultFile(path).create(PASSWORD, kdf_cost="minimum").add_many(entries)
    reopened = VaultFile(path).unlock(PASSWORD).entries()
    assert [e.to_dict() for e in reopened] == [e.to_dict() for e in entries]


@pytest.fixture(scope="module")
def sample_vault_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("sample") / "vault.json"
    vault = VaultFile(path).create(PASSWORD, kdf_cost="minimum")
    vault.add(Entry(secret="JBSWY3DPEHPK3PXP", issuer="Jira", account="ann", origins=[JIRA]))
    return path.read_bytes()


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_byte_mutations_always_give_a_clear_vault_error(sample_vault_bytes, data):
    blob = bytearray(sample_vault_bytes)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(blob) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if action == "flip":
            blob[position] ^= data.draw(st.integers(1, 255))
        elif action == "delete":
            del blob[position]
        elif action == "insert":
            blob.insert(position, data.draw(st.integers(0, 255)))
        else:
            del blob[position:]
        if not blob:
            break
    mutated = bytes(blob)
    if mutated == sample_vault_bytes:
        return
    # Parsing alone must never raise anything else; a file that still parses must not open with the password
    # unless the mutation only touched insignificant whitespace.
    try:
        sealed = parse_vault(mutated)
    except VaultError:
        return
    from native_host.vault import crypto

    try:
        key = crypto.open_master_key(sealed, PASSWORD)
        crypto.unseal(key, sealed)
    except VaultError:
        return
    assert json.loads(mutated) == json.loads(sample_vault_bytes)


@settings(max_examples=200, deadline=None)
@given(junk=st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_are_never_mistaken_for_a_vault(junk):
    with pytest.raises(VaultError):
        parse_vault(junk)


def test_build_and_parse_are_inverse(sample_vault_bytes):
    sealed = parse_vault(sample_vault_bytes)
    assert build_vault(sealed.header, sealed.db) == sample_vault_bytes


def test_the_vault_directory_is_created_private(vault, vault_path):
    assert stat.S_IMODE(vault_path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(vault_path.with_name("vault.json.lock").stat().st_mode) == 0o600


def test_the_default_cost_is_the_strong_preset(tmp_path):
    path = tmp_path / "strong.json"
    VaultFile(path).create(PASSWORD).lock()
    kdf = json.loads(path.read_text())["header"]["slots"][0]["kdf"]
    assert (kdf["name"], kdf["log2_n"], kdf["r"], kdf["p"]) == ("scrypt", 17, 8, 1)
    assert len(base64.b64decode(kdf["salt"])) == 32
