"""The same valid code submitted at once, by many threads and by several OS processes: exactly one wins.

Runs on SQLite (one file shared by the processes) and on PostgreSQL (one schema shared by them).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from verifier.core import totp
from verifier.service import Verifier

from .conftest import fast_settings

REPO = Path(__file__).resolve().parents[2]
THREADS = 16
PROCESSES = 3
THREADS_PER_PROCESS = 4

# Each worker process opens its own store and Verifier, waits for the go-file, then submits the code from
# several threads at once and prints how many of its attempts succeeded.
WORKER = r"""
import base64, json, os, sys, threading, time
from pathlib import Path
sys.path.insert(0, os.environ["REPO"])
from verifier.store import open_store
from verifier.service import Verifier
from tests.verifier.conftest import fast_settings

store = open_store(os.environ["STORE_URL"])
v = Verifier(store, fast_settings(base64.b64decode(os.environ["KEY"])))
go = Path(os.environ["GO_FILE"])
results = []
def attempt():
    while not go.exists():
        time.sleep(0.001)
    results.append(v.verify_totp(os.environ["USERNAME"], os.environ["CODE"], "192.0.2.1", "worker").reason)
print("ready", flush=True)
threads = [threading.Thread(target=attempt) for _ in range(int(os.environ["THREADS"]))]
for t in threads: t.start()
for t in threads: t.join()
store.close()
print(json.dumps(results), flush=True)
"""


def _enrolled(verifier: Verifier, username: str) -> bytes:
    verifier.create_user(username)
    enrolment = verifier.totp_enroll_begin(username)
    secret = base64.b32decode(enrolment["secret"] + "=" * (-len(enrolment["secret"]) % 8))
    assert verifier.totp_enroll_confirm(username, totp.totp(secret, time.time() - 30), "192.0.2.1", "t").ok
    return secret


def test_many_threads_with_the_same_code_yield_exactly_one_success(store, server_key):
    verifier = Verifier(store, fast_settings(server_key))
    secret = _enrolled(verifier, "alice")
    code = totp.totp(secret, time.time())
    barrier = threading.Barrier(THREADS)
    reasons: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        result = verifier.verify_totp("alice", code, "192.0.2.1", "thread")
        with lock:
            reasons.append(result.reason)

    threads = [threading.Thread(target=attempt) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # The losers are refused as replays; once enough replays pile up the failure counter locks the rest.
    assert reasons.count("ok") == 1 and set(reasons) <= {"ok", "replay", "locked"} and len(reasons) == THREADS


def test_several_processes_with_the_same_code_yield_exactly_one_success(store, store_url, server_key, tmp_path):
    verifier = Verifier(store, fast_settings(server_key))
    secret = _enrolled(verifier, "alice")
    code = totp.totp(secret, time.time())
    go = tmp_path / "go"
    env = {**os.environ, "REPO": str(REPO), "STORE_URL": store_url, "KEY": base64.b64encode(server_key).decode(),
           "GO_FILE": str(go), "USERNAME": "alice", "CODE": code, "THREADS": str(THREADS_PER_PROCESS)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(PROCESSES)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        go.touch()
        outputs = [p.communicate(timeout=120)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs)
    reasons = [r for out in outputs for r in json.loads(out.strip().splitlines()[-1])]
    assert len(reasons) == PROCESSES * THREADS_PER_PROCESS
    assert reasons.count("ok") == 1 and set(reasons) <= {"ok", "replay", "locked"}
    assert [e["result"] for e in verifier.audit(username="alice", event="verify")].count("ok") == 1


def test_a_backup_code_used_concurrently_succeeds_once(store, server_key):
    verifier = Verifier(store, fast_settings(server_key))
    verifier.create_user("alice")
    code = verifier.generate_backup_codes("alice")[0]
    barrier = threading.Barrier(8)
    oks: list[bool] = []

    def attempt() -> None:
        barrier.wait()
        oks.append(verifier.verify_backup_code("alice", code, "192.0.2.1", "thread").ok)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert oks.count(True) == 1
