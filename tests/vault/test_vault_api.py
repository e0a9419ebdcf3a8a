"""The UnlockedVault API: origin binding, lookups, edits, backup codes, passwords, export, locking."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from native_host.errors import (
    AmbiguousEntry,
    BadRequest,
    EntryNotFound,
    InvalidOrigin,
    OriginNotAllowed,
    VaultError,
    VaultExists,
    VaultLocked,
    WrongPassword,
)
from native_host.vault import VaultFile
from native_host.vault.entry import Entry

from .conftest import JIRA, PASSWORD, SECRET_160


def _jira(vault):
    return vault.entries_for_origin(JIRA)[0]


def test_a_code_is_given_to_the_bound_origin(vault):
    code, seconds_left = vault.code(_jira(vault).id, JIRA)
    assert code.isdigit() and len(code) == 6 and 1 <= seconds_left <= 30


def test_the_bound_origin_matches_in_any_spelling_of_the_same_origin(vault):
    assert vault.code(_jira(vault).id, "HTTPS://Jira.Example.com:443")[0] == vault.code(_jira(vault).id, JIRA)[0]


@pytest.mark.parametrize(
    "origin",
    ["https://jira.example.com.evil.test", "http://jira.example.com", "https://evil.test",
     "https://jira.example.com:8443", "https://sub.jira.example.com"],
)
def test_no_code_for_an_origin_the_entry_is_not_bound_to(vault, origin):
    with pytest.raises(OriginNotAllowed):
        vault.code(_jira(vault).id, origin)


def test_a_malformed_origin_is_a_bad_request(vault):
    with pytest.raises(InvalidOrigin):
        vault.code(_jira(vault).id, "javascript:alert(1)")


def test_entries_for_origin_lists_only_exact_matches(vault):
    vault.add(Entry(secret=SECRET_160, issuer="Wiki", origins=["https://wiki.example.com"]))
    assert [e.issuer for e in vault.entries_for_origin(JIRA)] == ["Jira"]
    assert vault.entries_for_origin("https://jira.example.com.evil.test") == []


def test_binding_a_second_origin_is_explicit(vault):
    entry = vault.bind_origin(_jira(vault).id, "https://wiki.example.com/some/page")
    assert entry.origins == [JIRA, "https://wiki.example.com"]
    assert vault.code(entry.id, "https://wiki.example.com")[0]
    reopened = VaultFile(vault.path).unlock(PASSWORD)
    assert reopened.entries_for_origin("https://wiki.example.com")[0].id == entry.id


def test_get_finds_by_id_label_issuer_account_and_id_prefix(vault):
    entry = _jira(vault)
    assert vault.get(entry.id) is entry
    assert vault.get("jira:ANN") is entry
    assert vault.get("Jira") is entry
    assert vault.get("ann") is entry
    assert vault.get(entry.id[:6]) is entry


def test_an_ambiguous_name_asks_for_the_id(vault):
    vault.add(Entry(secret=SECRET_160, issuer="Jira", account="bob"))
    with pytest.raises(AmbiguousEntry):
        vault.get("Jira")


def test_an_unknown_name_is_not_found(vault):
    with pytest.raises(EntryNotFound):
        vault.get("nothing")


def test_an_unknown_id_gives_no_code(vault):
    with pytest.raises(EntryNotFound):
        vault.code("0" * 32, JIRA)


def test_update_renames_and_persists(vault):
    entry = vault.update(_jira(vault).id, issuer="Jira Cloud", account="ann@example.com")
    assert VaultFile(vault.path).unlock(PASSWORD).get(entry.id).label == "Jira Cloud:ann@example.com"


def test_update_of_an_unknown_field_is_refused_and_changes_nothing(vault):
    before = vault.path.read_bytes()
    with pytest.raises(BadRequest):
        vault.update(_jira(vault).id, secret_key="x")
    with pytest.raises(BadRequest):
        vault.update(_jira(vault).id, id="mine")
    assert vault.path.read_bytes() == before


def test_update_with_an_invalid_value_changes_nothing(vault):
    before = vault.path.read_bytes()
    with pytest.raises(BadRequest):
        vault.update(_jira(vault).id, digits=12)
    assert vault.path.read_bytes() == before
    assert _jira(vault).digits == 6


def test_adding_with_a_bad_origin_changes_nothing(vault):
    before = vault.path.read_bytes()
    with pytest.raises(InvalidOrigin):
        vault.add(Entry(secret=SECRET_160, origins=["ftp://files.example.com"]))
    assert vault.path.read_bytes() == before


def test_remove_deletes_the_entry_for_good(vault):
    entry_id = _jira(vault).id
    vault.remove(entry_id)
    assert VaultFile(vault.path).unlock(PASSWORD).entries() == []
    with pytest.raises(EntryNotFound):
        vault.remove(entry_id)


def test_backup_codes_are_handed_out_once_in_order(vault):
    entry = vault.update(_jira(vault).id, backup_codes=["11111111", "22222222"])
    assert vault.take_backup_code(entry.id, JIRA) == ("11111111", 1)
    reopened = VaultFile(vault.path).unlock(PASSWORD)
    assert reopened.take_backup_code(entry.id, JIRA) == ("22222222", 0)
    with pytest.raises(VaultError, match="no unused backup codes"):
        reopened.take_backup_code(entry.id, JIRA)


def test_backup_codes_are_refused_to_another_origin(vault):
    entry = vault.update(_jira(vault).id, backup_codes=["11111111"])
    with pytest.raises(OriginNotAllowed):
        vault.take_backup_code(entry.id, "https://evil.test")
    assert _jira(vault).backup_codes == [{"code": "11111111", "used": False}]


def test_a_code_request_records_when_the_entry_was_last_used(vault):
    assert _jira(vault).last_used is None
    vault.code(_jira(vault).id, JIRA)
    assert VaultFile(vault.path).unlock(PASSWORD).get("Jira").last_used is not None


def test_change_password_replaces_the_old_one(vault):
    vault.change_password(PASSWORD, "a new password")
    with pytest.raises(WrongPassword):
        VaultFile(vault.path).unlock(PASSWORD)
    assert [e.issuer for e in VaultFile(vault.path).unlock("a new password").entries()] == ["Jira"]


def test_change_password_with_the_wrong_current_password_changes_nothing(vault):
    before = vault.path.read_bytes()
    with pytest.raises(WrongPassword):
        vault.change_password("wrong", "a new password")
    assert vault.path.read_bytes() == before


def test_another_open_vault_is_locked_by_a_password_change_and_loses_nothing(vault):
    other = VaultFile(vault.path).unlock(PASSWORD)
    vault.change_password(PASSWORD, "a new password")
    after_change = vault.path.read_bytes()
    with pytest.raises(VaultLocked, match="password was changed in another process"):
        other.add(Entry(secret=SECRET_160, issuer="later"))
    assert other.locked and vault.path.read_bytes() == after_change
    assert [e.issuer for e in VaultFile(vault.path).unlock("a new password").entries()] == ["Jira"]


def test_an_encrypted_export_opens_with_its_own_password(vault, tmp_path):
    backup = tmp_path / "backup.json"
    vault.export_encrypted(backup, "backup password", kdf_cost="minimum")
    assert [e.label for e in VaultFile(backup).unlock("backup password").entries()] == ["Jira:ann"]
    with pytest.raises(VaultExists):
        vault.export_encrypted(backup, "backup password", kdf_cost="minimum")


def test_export_uris_round_trip_through_the_otpauth_parser(vault):
    from native_host.vault.otpauth import parse_otpauth_uri

    (uri,) = vault.export_uris()
    parsed = parse_otpauth_uri(uri)
    assert (parsed.secret, parsed.issuer, parsed.account) == (SECRET_160, "Jira", "ann")


def test_a_locked_vault_answers_nothing(vault):
    entry_id = _jira(vault).id
    vault.lock()
    assert vault.locked
    with pytest.raises(VaultLocked):
        vault.code(entry_id, JIRA)
    with pytest.raises(VaultLocked):
        vault.entries()
    with pytest.raises(VaultLocked):
        vault.add(Entry(secret=SECRET_160))


def test_an_empty_password_is_refused(vault_path):
    with pytest.raises(BadRequest):
        VaultFile(vault_path).create("", kdf_cost="minimum")
    assert not vault_path.exists()


def test_importing_the_vault_package_loads_no_cryptography():
    code = "import sys, native_host.vault; print(sorted(m for m in sys.modules if m.split('.')[0] in " \
           "('cryptography', 'fido2', 'asyncio', 'websockets')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_the_default_path_follows_the_environment(monkeypatch, tmp_path):
    from native_host.vault import default_vault_path

    monkeypatch.setenv("TRACKER2FA_VAULT", str(tmp_path / "mine.json"))
    assert default_vault_path() == tmp_path / "mine.json"
    monkeypatch.delenv("TRACKER2FA_VAULT")
    assert default_vault_path().name == "vault.json" and "tracker2fa" in str(default_vault_path())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=40))
def test_any_name_finds_one_entry_or_says_why_not(vault, name):
    try:
        found = vault.get(name)
    except (EntryNotFound, AmbiguousEntry, BadRequest):
        return
    assert name.casefold() in (found.id, found.label.casefold(), found.issuer.casefold(), found.account.casefold()) \
        or found.id.startswith(name)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(origin=st.text(max_size=60))
def test_any_requesting_origin_gets_the_code_only_if_it_is_the_bound_one(vault, origin):
    from native_host.origins import normalize_origin

    entry = _jira(vault)
    try:
        vault.code(entry.id, origin)
    except (OriginNotAllowed, InvalidOrigin):
        return
    assert normalize_origin(origin) == JIRA


def test_update_normalises_origins_and_drops_duplicates(vault):
    entry = vault.update(_jira(vault).id, origins=["https://JIRA.example.com/login", JIRA, "http://localhost:8080/x"])
    assert entry.origins == [JIRA, "http://localhost:8080"]
    assert [e.id for e in vault.entries_for_origin("http://localhost:8080")] == [entry.id]


def test_an_entry_with_a_field_of_the_wrong_type_is_refused_and_nothing_is_written(vault):
    before = vault.path.read_bytes()
    with pytest.raises(BadRequest, match="digits"):
        vault.add(Entry(secret=SECRET_160, digits="6"))
    with pytest.raises(BadRequest, match="period"):
        vault.update(_jira(vault).id, period="30")
    assert vault.path.read_bytes() == before


def test_a_stored_entry_with_loose_types_still_opens(vault):
    import json

    entry = _jira(vault)
    loose = {**json.loads(vault._fragments[entry.id]), "digits": "6", "period": 30.0}
    vault._mutate(lambda: vault._fragments.update({entry.id: json.dumps(loose)}))  # as an older writer might
    reopened = VaultFile(vault.path).unlock(PASSWORD)
    assert reopened.code(entry.id, JIRA, now=59)[0] == vault.code(entry.id, JIRA, now=59)[0]
