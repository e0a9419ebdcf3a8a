"""SQLite writers of several processes (``serve --workers N``) queue on ``flock`` of ``<db>-writer``.

The kernel wakes the next writer as soon as the lock is free; SQLite's busy handler would sleep 1-100 ms
between tries. A reader never takes the lock.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time

import pytest

from verifier.store.sqlite import SqliteStore

HOLD = ("import fcntl, sys\n"
        "f = open(sys.argv[1], 'rb'); fcntl.flock(f, getattr(fcntl, sys.argv[2]))\n"
        "print('held', flush=True); sys.stdin.readline()\n")
WAIT_SECONDS = 20.0  # a bound for a hung thread, never a timing assertion


def _holder(lock_path, mode: str = "LOCK_EX") -> subprocess.Popen:
    """Another process holding the writer lock (``LOCK_EX`` as a writer does, or ``LOCK_SH``) until its
    stdin is closed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_path), mode], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _blocked_on(lock_path) -> bool:
    """True while some process waits in flock() for ``lock_path`` (a "->" line of /proc/locks)."""
    inode = f":{os.stat(lock_path).st_ino} "
    with open("/proc/locks") as locks:
        return any("->" in line and "FLOCK" in line and inode in line for line in locks)


def _queued_or_done(lock_path, done: threading.Event) -> str:
    """Wait until the write is queued on the lock ("queued") or has finished anyway ("written")."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if done.is_set():
            return "written"
        if _blocked_on(lock_path):
            return "queued"
        time.sleep(0.01)
    return "neither"


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


@pytest.mark.parametrize("held", ["LOCK_EX", "LOCK_SH"], ids=["held exclusive", "held shared"])
def test_a_write_waits_while_another_process_holds_the_writer_lock(tmp_path, held) -> None:
    """Held shared too: a writer that took the lock shared would pass an exclusive holder's test."""
    store = SqliteStore(tmp_path / "verifier.db")
    lock_path = tmp_path / "verifier.db-writer"
    holder = _holder(lock_path, held)
    try:
        done = _in_thread(lambda: store.add_audit({"ts": 1.0, "event": "test", "result": "ok"}))
        # queued behind the other process in the kernel, not inside SQLite, and not written past it
        assert _queued_or_done(lock_path, done) == "queued", f"the write did not wait for a lock held {held}"
        holder.stdin.close()
        holder.wait(timeout=10)
        assert done.wait(WAIT_SECONDS)
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
