"""Two ``tracker2fa verifier serve`` nodes on different ports sharing one PostgreSQL schema, nothing between them.

The nodes stand in for two machines behind a load balancer: every single-use rule, counter and feed must
hold through the database alone. One worker per node keeps the two-core test machine from thrashing; the
cross-worker case is tests/verifier/test_workers.py.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.event_loop import run_on_own_thread
from tests.support.host_key import HostKey
from verifier.core import totp
from verifier.service import Verifier
from verifier.store import open_store

from .cluster import Node, enrol, fresh_ip, nodes
from .conftest import fast_settings, new_pg_schema_url

pytestmark = pytest.mark.postgres

TRIALS = 300  # same code to both nodes at once; the 1,000-trial figure is in bench/verifier_bench.py
ORIGIN = "http://localhost"


@pytest.fixture(scope="module")
def pair(pg_database, tmp_path_factory) -> Iterator[tuple[Node, Node, Verifier]]:
    """Two nodes on one fresh schema, and an in-process Verifier on it for set-up and checks."""
    import psycopg

    url, schema = new_pg_schema_url(pg_database)
    try:
        with nodes(url, tmp_path_factory.mktemp("nodes"), count=2, workers=1) as (started, key):
            store = open_store(url)
            try:
                yield started[0], started[1], Verifier(store, fast_settings(key, origins=(ORIGIN,)))
            finally:
                store.close()
    finally:
        with psycopg.connect(pg_database, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _both_at_once(calls: list) -> list:
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_the_same_code_sent_to_both_nodes_at_once_succeeds_exactly_once_in_every_trial(pair):
    a, b, verifier = pair
    outcomes = []
    for trial in range(TRIALS):
        name = f"twice-{trial}-{os.urandom(3).hex()}"
        code = totp.totp(enrol(verifier, name), time.time())
        ip = fresh_ip()
        replies = _both_at_once([functools.partial(a.verify_totp, name, code, ip),
                                 functools.partial(b.verify_totp, name, code, ip)])
        outcomes.append(sorted(r["reason"] for r in replies))
    assert outcomes == [["ok", "replay"]] * TRIALS


def test_failures_on_both_nodes_add_up_to_one_lock(pair):
    a, b, verifier = pair
    name = f"guessed-{os.urandom(3).hex()}"
    secret = enrol(verifier, name)
    near = {totp.totp(secret, time.time() + d * 30) for d in range(-2, 3)}
    wrong = next(c for c in ("000000", "111111", "222222") if c not in near)
    free = verifier.settings.rate_limit.free_failures
    for i in range(free):  # alternate nodes, a new address each time: only the user's counter grows
        assert (a if i % 2 else b).verify_totp(name, wrong, fresh_ip())["reason"] == "invalid"
    for node in (a, b):
        reply = node.verify_totp(name, totp.totp(secret, time.time()), fresh_ip())
        assert reply["reason"] == "locked" and reply["retry_after"] > 0


def test_a_challenge_from_one_node_completes_once_on_the_other(pair):
    a, b, verifier = pair
    name = f"key-{os.urandom(3).hex()}"
    verifier.create_user(name)
    key = HostKey()
    options, state_id = verifier.webauthn_register_begin(name, ORIGIN)
    verifier.webauthn_register_complete(name, state_id, key.create(ORIGIN, options), "Desk key")
    status, begin = a.call("POST", "/v1/webauthn/authenticate/begin", {"username": name, "origin": ORIGIN})
    assert status == 200, begin
    body = {"username": name, "state_id": begin["state_id"], "credential": key.get(ORIGIN, begin["options"]),
            "ip": fresh_ip()}
    assert b.call("POST", "/v1/webauthn/authenticate/complete", body)[1]["ok"] is True
    again = a.call("POST", "/v1/webauthn/authenticate/complete", body)[1]
    assert again == {"ok": False, "reason": "expired", "retry_after": None}


def test_a_device_remembered_on_one_node_rotates_once_across_both(pair):
    a, b, verifier = pair
    name = f"device-{os.urandom(3).hex()}"
    verifier.create_user(name)
    status, _ = a.call("PUT", "/v1/admin/policy", {"mode": "all", "remember_days": 30}, admin=True)
    assert status == 200
    status, reply = a.call("POST", "/v1/devices/remember", {"username": name, "ip": fresh_ip()})
    assert status == 200, reply
    token = reply["token"]
    rotated = b.call("POST", "/v1/devices/check", {"username": name, "token": token})[1]["token"]
    assert rotated and rotated != token
    assert a.call("POST", "/v1/devices/check", {"username": name, "token": token})[1] == {"token": None}
    assert a.call("POST", "/v1/devices/check", {"username": name, "token": rotated})[1]["token"]


def test_each_node_reads_the_audit_rows_the_other_wrote(pair):
    a, b, verifier = pair
    name = f"audited-{os.urandom(3).hex()}"
    code = totp.totp(enrol(verifier, name), time.time())
    assert a.verify_totp(name, code, fresh_ip())["ok"]
    status, reply = b.call("GET", f"/v1/admin/audit?username={name}&event=verify", admin=True)
    assert status == 200 and [e["result"] for e in reply["events"]] == ["ok"], reply


def test_the_live_audit_feed_of_one_node_carries_the_events_of_the_other(pair):
    import websockets

    a, b, verifier = pair
    name = f"watched-{os.urandom(3).hex()}"
    code = totp.totp(enrol(verifier, name), time.time())

    async def watch() -> dict:
        url = b.base.replace("http://", "ws://") + "/ws/audit"
        async with websockets.connect(url, additional_headers={"authorization": f"Bearer {b.admin_token}"}) as ws:
            await asyncio.sleep(0.5)  # subscribed before the event is written
            assert (await asyncio.to_thread(a.verify_totp, name, code, fresh_ip()))["ok"]
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
                if event["username"] == name:
                    return event

    event = run_on_own_thread(watch)
    assert event["event"] == "verify" and event["result"] == "ok"
