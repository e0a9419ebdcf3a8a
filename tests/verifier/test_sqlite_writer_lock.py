"""SQLite writers of several processes (``serve --workers N``) queue on ``flock`` of ``<db>-writer``.

The kernel wakes the next writer as soon as the lock is free; SQLite's busy handler would sleep 1-100 ms
between tries. A reader never takes the lock.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import threading

from verifier.store.sqlite import SqliteStore

HOLD = ("import fcntl, sys\n"
        "f = open(sys.argv[1], 'rb'); fcntl.flock(f, fcntl.LOCK_EX)\n"
        "print('held', flush=True); sys.stdin.readline()\n")


def _holder(lock_path) -> subprocess.Popen:
    """Another process holding the writer lock until its stdin is closed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _in_thread(call) -> threading.Event:
    done = threading.Event()

    def run() -> None:
        call()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done


def test_the_writer_lock_file_is_private_and_beside_the_database(tmp_path) -> None:
    store = SqliteStore(tmp_path / "verifier.db")
    try:
        assert ((tmp_path / "verifier.db-writer").stat().st_mode & 0o777) == 0o600
    finally:
        store.close()


def test_a_write_waits_while_another_process_holds_the_writer_lock(tmp_path) -> None:
    store = SqliteStore(tmp_path / "verifier.db")
    holder = _holder(tmp_path / "verifier.db-writer")
    try:
        done = _in_thread(lambda: store.add_audit({"ts": 1.0, "event": "test", "result": "ok"}))
        assert not done.wait(1.0)  # queued behind the other process, not inside SQLite
        holder.stdin.close()
        holder.wait(timeout=10)
        assert done.wait(10)
        assert [e["event"] for e in store.query_audit()] == ["test"]
    finally:
        holder.kill()
        store.close()


def test_a_read_does_not_wait_for_the_writer_lock(tmp_path) -> None:
    store = SqliteStore(tmp_path / "verifier.db")
    holder = _holder(tmp_path / "verifier.db-writer")
    try:
        done = _in_thread(lambda: store.list_users())
        assert done.wait(10)
    finally:
        holder.kill()
        holder.wait()
        store.close()


def test_the_lock_is_free_again_after_each_write(tmp_path) -> None:
    store = SqliteStore(tmp_path / "verifier.db")
    try:
        store.add_audit({"ts": 1.0, "event": "test", "result": "ok"})
        with open(tmp_path / "verifier.db-writer", "rb") as other:  # another open file description
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError if still held
    finally:
        store.close()
