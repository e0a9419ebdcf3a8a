"""The gate's sessions in the verifier's database (schema 5), on SQLite and PostgreSQL: only the token's hash
is stored, an upgrade moves the session to a new token exactly once, revocation and logout delete rows."""

from __future__ import annotations

import hashlib
import threading

import pytest

from verifier.core.sessions import Level, Timeouts
from verifier.errors import UserNotFound

T = Timeouts(idle=1800, absolute=8 * 3600)


def start(verifier, user: str = "alice", level: Level = Level.ONE_FACTOR) -> str:
    if verifier.store.get_user(user) is None:
        verifier.create_user(user, groups=("dev",))
    return verifier.sessions.start(user, "example.com", level, "password", T, ip="192.0.2.1", user_agent="t",
                                   display_name="Alice", email="a@example.com")


def test_only_the_hash_of_a_token_is_stored(verifier) -> None:
    token = start(verifier)
    with verifier.store.tx(write=False) as tx:
        rows = tx.run("SELECT * FROM gate_sessions")
    assert token not in str(rows)
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()


def test_a_lookup_reads_the_session_and_the_users_live_groups(verifier) -> None:
    token = start(verifier)
    verifier.set_groups("alice", ["dev", "ops"])
    row = verifier.sessions.lookup(token)
    assert (row.username, row.domain, row.level, row.groups, row.email) == \
        ("alice", "example.com", 1, ("dev", "ops"), "a@example.com")
    assert verifier.sessions.lookup("x" * 43) is None and verifier.sessions.lookup("not a token") is None


def test_an_upgrade_gives_a_new_token_and_the_old_one_dies(verifier) -> None:
    token = start(verifier)
    row = verifier.sessions.lookup(token)
    new = verifier.sessions.upgrade(token, row, Level.TWO_FACTORS, "totp", T, ip="192.0.2.1", user_agent="t")
    assert new and new != token
    assert verifier.sessions.lookup(token) is None
    assert verifier.sessions.lookup(new).level == 2 and verifier.sessions.lookup(new).created == row.created


def test_of_concurrent_upgrades_of_one_session_exactly_one_wins(verifier) -> None:
    token = start(verifier)
    row = verifier.sessions.lookup(token)
    results: list[str | None] = []
    barrier = threading.Barrier(8)

    def upgrade() -> None:
        barrier.wait()
        results.append(verifier.sessions.upgrade(token, row, Level.TWO_FACTORS, "totp", T, ip="192.0.2.1",
                                                 user_agent="t"))

    threads = [threading.Thread(target=upgrade) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([r for r in results if r]) == 1


def test_revocation_ends_every_session_of_the_user_and_only_theirs(verifier) -> None:
    a1, a2, b = start(verifier), start(verifier), start(verifier, "bob")
    assert [s.level for s in verifier.list_sessions("alice")] == [1, 1]
    assert verifier.revoke_sessions("alice", actor="admin") == 2
    assert verifier.sessions.lookup(a1) is None and verifier.sessions.lookup(a2) is None
    assert verifier.sessions.lookup(b) is not None
    event = verifier.audit(event="sessions_revoked")[-1]
    assert (event.username, event.actor, event.detail) == ("alice", "admin", "2 sessions")
    with pytest.raises(UserNotFound):
        verifier.revoke_sessions("nobody")


def test_one_session_is_revoked_by_its_public_id(verifier) -> None:
    keep, end = start(verifier), start(verifier)
    sid = _sid_of(verifier, end)
    assert sid in [s.sid for s in verifier.list_sessions("alice")]
    assert verifier.revoke_sessions("alice", sid) == 1
    assert verifier.sessions.lookup(end) is None and verifier.sessions.lookup(keep) is not None


def _sid_of(verifier, token: str) -> str:
    digest = hashlib.sha256(token.encode()).hexdigest()
    with verifier.store.tx(write=False) as tx:
        return tx.run("SELECT sid FROM gate_sessions WHERE token_hash = ?", (digest,))[0]["sid"]


def test_logout_deletes_the_session(verifier) -> None:
    token = start(verifier)
    assert verifier.sessions.end(token, ip="192.0.2.1", user_agent="t")
    assert verifier.sessions.lookup(token) is None
    assert not verifier.sessions.end(token, ip="192.0.2.1", user_agent="t")


def test_the_pending_state_is_taken_once(verifier) -> None:
    token = start(verifier)
    assert verifier.sessions.set_pending(token, "state-1")
    assert verifier.sessions.lookup(token).pending == "state-1"
    assert verifier.sessions.take_pending(token, "state-1")
    assert not verifier.sessions.take_pending(token, "state-1")


def test_a_touch_records_activity_at_most_once_per_interval(verifier, clock) -> None:
    token = start(verifier)
    row = verifier.sessions.lookup(token)
    clock.advance(30)
    verifier.sessions.touch(token, row, T)
    assert verifier.sessions.lookup(token).last_seen == row.last_seen  # 30 s < the 60 s interval
    clock.advance(31)
    verifier.sessions.touch(token, row, T)
    assert verifier.sessions.lookup(token).last_seen == clock.now


def test_a_new_session_sweeps_dead_rows(verifier, clock) -> None:
    old = start(verifier)
    clock.advance(9 * 3600)
    verifier.sessions._last_sweep = 0.0
    start(verifier, "bob")
    with verifier.store.tx(write=False) as tx:
        left = tx.run("SELECT username FROM gate_sessions")
    assert [r["username"] for r in left] == ["bob"] and verifier.sessions.lookup(old) is None


def test_deleting_a_user_deletes_their_sessions(verifier) -> None:
    token = start(verifier)
    with verifier.store.tx() as tx:
        tx.run("DELETE FROM users WHERE username = ?", ("alice",))
    assert verifier.sessions.lookup(token) is None


@pytest.mark.postgres
def test_the_checks_reader_connection_is_replaced_when_the_database_drops_it(pg_database, server_key, clock) -> None:
    import psycopg

    from tests.verifier.conftest import fast_settings, new_pg_schema_url
    from verifier.service import Verifier
    from verifier.store import open_store

    url, schema = new_pg_schema_url(pg_database)
    store = open_store(url)
    try:
        verifier = Verifier(store, fast_settings(server_key), clock=clock)
        token = start(verifier)
        assert verifier.sessions.lookup(token) is not None
        (pid,) = store._readers.cursor.connection.execute("SELECT pg_backend_pid()").fetchone()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert verifier.sessions.lookup(token).username == "alice"
    finally:
        store.close()
        with psycopg.connect(pg_database, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
