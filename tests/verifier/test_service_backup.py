"""Backup codes through the Verifier and a real store."""

from __future__ import annotations

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


def test_a_user_without_codes_is_not_enrolled(verifier):
    verifier.create_user("alice")
    assert verifier.verify_backup_code("alice", "aaaa-bbbb-cccc", IP, UA).reason == "not_enrolled"


def test_codes_are_accepted_in_upper_case_without_dashes(verifier):
    verifier.create_user("alice")
    code = verifier.generate_backup_codes("alice")[0]
    assert verifier.verify_backup_code("alice", code.replace("-", "").upper(), IP, UA).ok
