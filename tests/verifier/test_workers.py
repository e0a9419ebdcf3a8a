"""``tracker2fa verifier serve --workers 2``: the single-use rules hold across worker processes on one port.

Each test drives real ``serve`` processes over HTTP, on SQLite (one WAL file) and on PostgreSQL (a fresh
schema). Requests go out on new connections from many threads at once, so the kernel spreads them over
both workers; every module checks first that the server really runs two worker processes.
"""

from __future__ import annotations

import functools
import http.client
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.host_key import HostKey
from verifier.core import totp
from verifier.service import Verifier
from verifier.store import open_store

from .cluster import Node, enrol, fresh_ip, nodes, stop_node
from .conftest import fast_settings, new_pg_schema_url

WORKERS = 2
TRIALS = 40  # concurrent identical-code trials per database
SAME_CODE_SENDERS = 6
ORIGIN = "http://localhost"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path_factory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('workers') / 'verifier.db'}"
        return
    import psycopg

    database = request.getfixturevalue("pg_database")
    url, schema = new_pg_schema_url(database)
    yield url
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module")
def cluster(db_url, tmp_path_factory) -> Iterator[tuple[Node, Verifier]]:
    """One ``serve --workers 2`` and an in-process Verifier on the same database (for set-up and checks)."""
    with nodes(db_url, tmp_path_factory.mktemp("logs"), count=1, workers=WORKERS) as (started, key):
        store = open_store(db_url)
        try:
            yield started[0], Verifier(store, fast_settings(key, origins=(ORIGIN,)))
        finally:
            store.close()


def _at_once(calls: list) -> list:
    """Run the calls on as many threads, released together."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_the_server_runs_the_requested_number_of_worker_processes(cluster):
    node, _ = cluster
    assert len(node.workers()) == WORKERS


def test_the_same_code_sent_at_once_to_two_workers_succeeds_exactly_once_in_every_trial(cluster):
    node, verifier = cluster
    winners = []
    for trial in range(TRIALS):
        name = f"same-{trial}-{os.urandom(3).hex()}"
        code = totp.totp(enrol(verifier, name), time.time())
        ip = fresh_ip()
        replies = _at_once([functools.partial(node.verify_totp, name, code, ip)] * SAME_CODE_SENDERS)
        reasons = [r["reason"] for r in replies]
        assert set(reasons) <= {"ok", "replay", "locked"}, reasons
        winners.append(reasons.count("ok"))
        oks = [e for e in verifier.audit(username=name, event="verify") if e.result == "ok"]
        assert len(oks) == 1, (trial, reasons)
    assert winners == [1] * TRIALS


def test_failures_counted_by_both_workers_lock_the_user(cluster):
    node, verifier = cluster
    name = f"guessed-{os.urandom(3).hex()}"
    secret = enrol(verifier, name)
    free = verifier.settings.rate_limit.free_failures
    wrong = next(c for c in ("000000", "111111", "222222") if c not in
                 {totp.totp(secret, time.time() + d * 30) for d in range(-2, 3)})
    # Each failure from its own address: only the user's counter can add up to a lock.
    replies = _at_once([lambda: node.verify_totp(name, wrong, fresh_ip())] * free)
    assert [r["reason"] for r in replies] == ["invalid"] * free
    reply = node.verify_totp(name, totp.totp(secret, time.time()), fresh_ip())
    assert reply["reason"] == "locked" and reply["retry_after"] > 0


def test_a_backup_code_sent_at_once_to_two_workers_succeeds_once(cluster):
    node, verifier = cluster
    name = f"backup-{os.urandom(3).hex()}"
    verifier.create_user(name)
    code = verifier.generate_backup_codes(name)[0]
    replies = _at_once([lambda: node.call("POST", "/v1/backup-codes/verify",
                                          {"username": name, "code": code, "ip": fresh_ip()})[1]] * 6)
    assert sorted(r["ok"] for r in replies) == [False] * 5 + [True]


def test_a_webauthn_challenge_completed_at_once_on_two_workers_succeeds_once(cluster):
    node, verifier = cluster
    name = f"key-{os.urandom(3).hex()}"
    verifier.create_user(name)
    key = HostKey()
    options, state_id = verifier.webauthn_register_begin(name, ORIGIN)
    verifier.webauthn_register_complete(name, state_id, key.create(ORIGIN, options), "Desk key")
    status, begin = node.call("POST", "/v1/webauthn/authenticate/begin", {"username": name, "origin": ORIGIN})
    assert status == 200, begin
    assertion = key.get(ORIGIN, begin["options"])
    body = {"username": name, "state_id": begin["state_id"], "credential": assertion, "ip": fresh_ip()}
    replies = _at_once([lambda: node.call("POST", "/v1/webauthn/authenticate/complete", body)] * 6)
    oks = [reply for status, reply in replies if status == 200 and reply.get("ok")]
    assert len(oks) == 1, replies
    assert all(reply.get("reason") == "expired" or reply.get("ok") for _, reply in replies), replies


def test_a_worker_killed_mid_request_loses_no_acknowledged_verification(cluster):
    node, verifier = cluster
    names = [f"storm-{i}-{os.urandom(3).hex()}" for i in range(160)]
    secrets_by_name = {name: enrol(verifier, name) for name in names}
    victim = node.workers()[0]
    acknowledged: list[str] = []
    step_sent: dict[str, int] = {}
    lock = threading.Lock()

    def verify(name: str) -> None:
        now = time.time()
        step_sent[name] = int(now) // 30
        try:
            status, reply = node.call("POST", "/v1/totp/verify", {
                "username": name, "code": totp.totp(secrets_by_name[name], now), "ip": fresh_ip()}, timeout=30)
        except (OSError, http.client.HTTPException):
            return  # the connection died with the worker (before or during the reply): not acknowledged
        if status == 200 and reply["ok"]:
            with lock:
                acknowledged.append(name)

    def killer() -> None:
        while len(acknowledged) < 20:
            time.sleep(0.005)
        os.kill(victim, signal.SIGKILL)

    kill_thread = threading.Thread(target=killer)
    kill_thread.start()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(verify, names))
    kill_thread.join()
    assert len(acknowledged) >= 20
    for name in acknowledged:  # every acknowledged acceptance: its ledger step and its audit row
        assert verifier.store.get_totp(name)["last_step"] == step_sent[name], name
        assert [e.result for e in verifier.audit(username=name, event="verify")] == ["ok"], name
    deadline = time.monotonic() + 60
    while not (len(node.workers()) == WORKERS and victim not in node.workers() and node.healthy()):
        assert time.monotonic() < deadline, f"the manager did not replace worker {victim}: {node.workers()}"
        time.sleep(0.1)


def test_sigterm_stops_every_worker_and_leaves_the_database_unlocked(db_url, tmp_path):
    with nodes(db_url, tmp_path, count=1, workers=WORKERS) as (started, key):
        node = started[0]
        workers = node.workers()
        store = open_store(db_url)
        try:
            verifier = Verifier(store, fast_settings(key))
            names = [f"stop-{i}-{os.urandom(3).hex()}" for i in range(20)]
            codes = {name: totp.totp(enrol(verifier, name), time.time()) for name in names}
        finally:
            store.close()
        with ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda n: node.verify_totp(n, codes[n], fresh_ip()), names))
        assert all(r["ok"] for r in replies)
        assert stop_node(node) == 0
        assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")], "a worker outlived the manager"
    if db_url.startswith("sqlite:///"):
        conn = sqlite3.connect(db_url[len("sqlite:///"):], timeout=0, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # raises 'database is locked' if a worker still held the write lock
        conn.execute("ROLLBACK")
        conn.close()
    store = open_store(db_url)
    try:
        after = Verifier(store, fast_settings(key))
        assert all([e.result for e in after.audit(username=name, event="verify")] == ["ok"] for name in names)
    finally:
        store.close()


def test_serve_refuses_fewer_than_one_worker(tmp_path, capsys, monkeypatch):
    from native_host.cli import main

    monkeypatch.setenv("TRACKER2FA_SERVICE_TOKEN", "t" * 32)
    code = main(["verifier", "serve", "--db", f"sqlite:///{tmp_path / 'v.db'}", "--workers", "0"])
    assert code == 1 and "--workers wants at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "v.db").exists()
