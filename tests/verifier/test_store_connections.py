"""The SQLite store's per-thread connections: a thread that ends does not leave its connection open.

Under the server, AnyIO retires pool threads idle for 10 s and starts new ones on the next burst; each
connection carries its own page cache (up to 2 MB), so keeping dead threads' connections grows memory.
"""

from __future__ import annotations

import threading

from verifier.store.sqlite import SqliteStore


def _read_once(store: SqliteStore) -> None:
    with store.tx(write=False) as tx:
        tx.run("SELECT 1")


def test_connections_of_ended_threads_are_closed_when_threads_churn(tmp_path) -> None:
    store = SqliteStore(tmp_path / "verifier.db")
    try:
        for _ in range(50):  # 50 short-lived threads, one after another, like a pool that churns
            thread = threading.Thread(target=_read_once, args=(store,))
            thread.start()
            thread.join()
        # Live users of the store now: this thread (migrations) and at most the last worker.
        assert store.open_connections() <= 2
    finally:
        store.close()


def test_connections_of_live_threads_stay_open(tmp_path) -> None:
    store = SqliteStore(tmp_path / "verifier.db")
    release = threading.Event()
    used = threading.Barrier(5)

    def use_and_wait() -> None:
        _read_once(store)
        used.wait()
        release.wait()

    threads = [threading.Thread(target=use_and_wait) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        used.wait()
        assert store.open_connections() == 5  # four workers + this thread's (migrations)
        _read_once(store)  # still works on this thread's own connection
    finally:
        release.set()
        for thread in threads:
            thread.join()
        store.close()
