"""Backup codes through the Verifier and a real store."""

from __future__ import annotations

import pytest

IP, UA = "198.51.100.7", "pytest"


def test_ten_codes_are_issued_and_counted(verifier):
    verifier.create_user("alice")
    assert len(verifier.generate_backup_codes("alice")) == 10
    assert verifier.user_status("alice")["backup_codes_left"] == 10


def test_a_backup_code_works_once(verifier):
    verifier.create_user("alice")
    code = verifier.generate_backup_codes("alice")[3]
    assert verifier.verify_backup_code("alice", code, IP, UA).ok
    assert not verifier.verify_backup_code("alice", code, IP, UA).ok
    assert verifier.user_status("alice")["backup_codes_left"] == 9


def test_regenerating_invalidates_the_old_codes(verifier):
    verifier.create_user("alice")
    old = verifier.generate_backup_codes("alice")
    new = verifier.generate_backup_codes("alice")
    assert not verifier.verify_backup_code("alice", old[0], IP, UA).ok
    assert verifier.verify_backup_code("alice", new[0], IP, UA).ok


def test_codes_are_stored_only_as_salted_hashes(verifier, store):
    verifier.create_user("alice")
    codes = verifier.generate_backup_codes("alice")
    stored = [row["code_hash"] for row in store.unused_backup_codes("alice")]
    assert all(h.startswith("scrypt$") for h in stored) and len(set(stored)) == 10
    assert not any(c.replace("-", "") in h for c in codes for h in stored)


def test_a_wrong_code_is_invalid_and_counts_as_a_failure(verifier, store):
    verifier.create_user("alice")
    verifier.generate_backup_codes("alice")
    assert verifier.verify_backup_code("alice", "aaaa-bbbb-cccc", IP, UA).reason == "invalid"
    assert store.get_failures("user:alice")[0] == 1


def test_garbage_input_is_invalid(verifier):
    verifier.create_user("alice")
    verifier.generate_backup_codes("alice")
    assert verifier.verify_backup_code("alice", "'; DROP TABLE users; --", IP, UA).reason == "invalid"


def test_a_user_without_codes_gets_the_answer_of_a_wrong_code(verifier):
    verifier.create_user("alice")
    result = verifier.verify_backup_code("alice", "aaaa-bbbb-cccc", IP, UA)
    assert (result.ok, result.reason, result.retry_after) == (False, "invalid", None)
    assert verifier.audit(username="alice", event="verify")[-1]["result"] == "not_enrolled"


def test_an_unknown_user_gets_the_answer_of_a_wrong_code(verifier):
    result = verifier.verify_backup_code("nobody", "aaaa-bbbb-cccc", IP, UA)
    assert (result.ok, result.reason, result.retry_after) == (False, "invalid", None)
    assert verifier.audit(username="nobody", event="verify")[-1]["detail"] == "unknown user"


def test_codes_are_accepted_in_upper_case_without_dashes(verifier):
    verifier.create_user("alice")
    code = verifier.generate_backup_codes("alice")[0]
    assert verifier.verify_backup_code("alice", code.replace("-", "").upper(), IP, UA).ok


@pytest.fixture
def scrypt_calls(monkeypatch) -> list[int]:
    """Counts the scrypt hashes computed (the real function still runs: this only instruments it)."""
    import hashlib

    from verifier.core import backup

    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(backup.hashlib, "scrypt", counting)
    return calls


def _hashes_for(verifier, scrypt_calls, username: str, code: str) -> int:
    scrypt_calls.clear()
    verifier.verify_backup_code(username, code, IP, UA)
    return len(scrypt_calls)


def test_a_wrong_code_costs_one_hash_however_many_codes_the_user_holds(verifier, scrypt_calls):
    verifier.create_user("alice")
    verifier.generate_backup_codes("alice")
    assert _hashes_for(verifier, scrypt_calls, "alice", "aaaa-bbbb-cccc") == 1


def test_a_right_code_costs_one_hash(verifier, scrypt_calls):
    verifier.create_user("alice")
    code = verifier.generate_backup_codes("alice")[-1]
    assert _hashes_for(verifier, scrypt_calls, "alice", code) == 1
    assert verifier.user_status("alice")["backup_codes_left"] == 9


def test_an_unknown_user_or_one_without_codes_costs_the_same_one_hash(verifier, scrypt_calls):
    verifier.create_user("bob")
    assert _hashes_for(verifier, scrypt_calls, "nobody", "aaaa-bbbb-cccc") == 1
    assert _hashes_for(verifier, scrypt_calls, "bob", "aaaa-bbbb-cccc") == 1


def test_codes_stored_before_lookup_tags_still_work_once(verifier, store):
    from verifier.core import backup

    verifier.create_user("alice")
    codes = backup.generate_codes()
    store.replace_backup_codes("alice", [backup.hash_code(c, verifier.settings.backup_hash) for c in codes])
    assert verifier.verify_backup_code("alice", codes[4], IP, UA).ok
    assert verifier.verify_backup_code("alice", codes[4], IP, UA).reason == "invalid"
    assert verifier.user_status("alice")["backup_codes_left"] == 9
