"""Store behaviours: migrations, the compare-and-set primitives, URLs."""

from __future__ import annotations

import pytest

from verifier.errors import VerifierConfigError
from verifier.store import open_store
from verifier.store.migrations import LATEST, MIGRATIONS


def test_a_new_store_is_migrated_to_the_latest_version(store):
    assert store.schema_version() == LATEST


def test_opening_twice_applies_migrations_once(store_url, store):
    again = open_store(store_url)
    try:
        assert again.schema_version() == LATEST
        with again.tx() as tx:
            assert tx.run("SELECT COUNT(*) AS n FROM schema_version")[0]["n"] == len(MIGRATIONS)
    finally:
        again.close()


def test_a_database_from_a_newer_verifier_is_refused(store_url, store):
    with store.tx() as tx:
        tx.run("INSERT INTO schema_version (version) VALUES (?)", (LATEST + 1,))
    with pytest.raises(VerifierConfigError):
        open_store(store_url).close()


def test_the_step_ledger_only_moves_forward(store):
    store.create_user("alice", None, [], 0.0)
    store.put_totp_pending("alice", "p", 0.0)
    assert store.confirm_totp("alice", "p", "s", 6, 30, "SHA1", 10, 0, 0.0)
    assert store.advance_totp_step("alice", 11, 0)
    assert not store.advance_totp_step("alice", 11, 0)
    assert not store.advance_totp_step("alice", 9, 0)


def test_a_challenge_can_be_taken_once(store):
    store.put_challenge("sid", "alice", "authenticate", "{}", 100.0, 0.0)
    assert store.take_challenge("sid") is not None
    assert store.take_challenge("sid") is None


def test_failure_counts_accumulate_atomically(store):
    assert [store.add_failure("user:x") for _ in range(3)] == [1, 2, 3]
    store.clear_failures("user:x")
    assert store.get_failures("user:x") == (0, None)


@pytest.mark.parametrize("url", ["mysql://x", "sqlite:///", "", "file.db", "sqlite:///:memory:"])
def test_unsupported_urls_are_refused_clearly(url):
    with pytest.raises(VerifierConfigError):
        open_store(url)


def test_sqlite_uses_wal(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        with store.tx() as tx:
            assert tx.run("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    finally:
        store.close()


def test_without_a_configured_key_sqlite_gets_a_private_key_file(tmp_path, monkeypatch):
    from verifier.service import Verifier

    monkeypatch.delenv("TRACKER2FA_VERIFIER_KEY", raising=False)
    store = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        Verifier(store)
        key_file = tmp_path / "k.db.key"
        assert key_file.exists() and key_file.stat().st_mode & 0o777 == 0o600
    finally:
        store.close()


def insert_user_of_schema_1(store, name: str, groups: list[str], now: float) -> None:
    """A user row as schema 1 has it (the store's create_user writes the columns of the latest schema)."""
    import json

    with store.tx() as tx:
        tx.run("INSERT INTO users (username, password_hash, groups_json, excluded_until, created) "
               "VALUES (?, NULL, ?, NULL, ?)", (name, json.dumps(groups), now))


def test_an_older_database_is_upgraded_in_place(store_url):
    from verifier.store import migrations

    original = migrations.MIGRATIONS
    try:
        migrations.MIGRATIONS = original[:1]
        import verifier.store.base as base

        base.MIGRATIONS, base.LATEST = original[:1], 1
        old = open_store(store_url)
        insert_user_of_schema_1(old, "alice", ["dev"], 0.0)
        old.close()
    finally:
        migrations.MIGRATIONS = original
        base.MIGRATIONS, base.LATEST = original, LATEST
    upgraded = open_store(store_url)
    try:
        assert upgraded.schema_version() == LATEST and upgraded.get_user("alice")["groups"] == ["dev"]
    finally:
        upgraded.close()


def test_backup_codes_stored_before_lookup_tags_survive_the_upgrade_and_still_verify(store_url, server_key):
    import verifier.store.base as base
    from verifier.core import backup
    from verifier.service import Verifier
    from verifier.store import migrations

    from .conftest import fast_settings

    codes = backup.generate_codes()
    original = migrations.MIGRATIONS
    before = [m for m in original if m[0] < 3]
    try:
        base.MIGRATIONS, base.LATEST = before, before[-1][0]
        old = open_store(store_url)
        insert_user_of_schema_1(old, "alice", [], 0.0)
        with old.tx() as tx:  # the shape of schema 2: no lookup_tag column
            for code in codes:
                tx.run("INSERT INTO backup_codes (username, code_hash, used) VALUES (?, ?, 0)",
                       ("alice", backup.hash_code(code, backup.HashParams(n=2**10))))
        old.close()
    finally:
        base.MIGRATIONS, base.LATEST = original, LATEST
    upgraded = open_store(store_url)
    try:
        assert upgraded.schema_version() == LATEST >= 3
        rows = upgraded.unused_backup_codes("alice")
        assert len(rows) == 10 and all(r["lookup_tag"] is None for r in rows)
        verifier = Verifier(upgraded, fast_settings(server_key))
        assert verifier.verify_backup_code("alice", codes[7], "192.0.2.1", "pytest").ok
        assert verifier.user_status("alice")["backup_codes_left"] == 9
        fresh = verifier.generate_backup_codes("alice")  # a new set carries tags
        assert all(r["lookup_tag"] for r in upgraded.unused_backup_codes("alice"))
        assert verifier.verify_backup_code("alice", fresh[0], "192.0.2.1", "pytest").ok
    finally:
        upgraded.close()


def test_totp_factors_and_enrolments_stored_before_schema_4_keep_working_after_the_upgrade(store_url, server_key):
    """Schema 3 had no ``totp.window_steps`` and no parameters on ``totp_pending``: a factor enrolled then
    still verifies (with the policy's window), and a pending enrolment is confirmed with the defaults it
    was shown with, even after an admin chose other settings for new enrolments."""
    import time

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    import verifier.store.base as base
    from verifier.core import sealing
    from verifier.core import totp as rules
    from verifier.service import Verifier
    from verifier.store import migrations

    from .conftest import fast_settings

    now = time.time()
    aead = AESGCM(server_key)
    enrolled, pending = rules.new_secret(), rules.new_secret()
    original = migrations.MIGRATIONS
    before = [m for m in original if m[0] < 4]
    try:
        base.MIGRATIONS, base.LATEST = before, before[-1][0]
        old = open_store(store_url)
        for name in ("alice", "bob"):
            insert_user_of_schema_1(old, name, [], now)
        with old.tx() as tx:  # the shape of schema 3
            tx.run("INSERT INTO totp (username, secret_enc, digits, period, algorithm, last_step, drift, created) "
                   "VALUES (?, ?, 6, 30, 'SHA1', 0, 0, ?)", ("alice", sealing.seal(aead, "alice", enrolled), now))
            tx.run("INSERT INTO totp_pending (username, secret_enc, created) VALUES (?, ?, ?)",
                   ("bob", sealing.seal(aead, "bob", pending), now))
        old.close()
    finally:
        base.MIGRATIONS, base.LATEST = original, LATEST
    upgraded = open_store(store_url)
    try:
        assert upgraded.schema_version() == LATEST >= 4
        verifier = Verifier(upgraded, fast_settings(server_key))
        verifier.update_policy(totp_digits=8, totp_period=60, totp_algorithm="SHA256")
        assert verifier.verify_totp("alice", rules.totp(enrolled, time.time()), "192.0.2.1", "t").ok
        assert verifier.totp_enroll_confirm("bob", rules.totp(pending, time.time()), "192.0.2.1", "t").ok
        assert (upgraded.get_totp("bob")["digits"], upgraded.get_totp("bob")["period"]) == (6, 30)
    finally:
        upgraded.close()
