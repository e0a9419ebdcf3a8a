"""SQLite store: WAL journal, one connection per thread, ``BEGIN IMMEDIATE`` for every transaction.

``BEGIN IMMEDIATE`` takes SQLite's single write lock up front, so each compare-and-set runs alone even
across processes sharing the file; ``busy_timeout`` makes the others wait instead of failing.

A new database is created 0600 and missing directories 0700, whatever the umask; SQLite gives its WAL and
SHM files the database file's mode, so they are 0600 too.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from ..errors import VerifierConfigError
from .base import Store, Tx

BUSY_TIMEOUT_MS = 30_000


class SqliteStore(Store):
    """The embedded default store."""

    pk_sql = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path == ":memory:" or self.path.startswith("file:"):
            # Each thread has its own connection: an in-memory database would differ per thread.
            raise VerifierConfigError("use a file for SQLite (sqlite:///path/to/verifier.db), not :memory:")
        self.url = f"sqlite:///{self.path}"
        try:
            create_private_file(Path(self.path))
        except OSError as exc:
            raise VerifierConfigError(f"cannot create the database {self.path}: {exc.strerror}") from None
        self._local = threading.local()
        # Every open connection and the thread that owns it: threads come and go (AnyIO retires pool
        # threads idle for 10 s), and a dead thread's connection must be closed, not kept with its cache.
        self._all: dict[sqlite3.Connection, threading.Thread] = {}
        self._all_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.migrate()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable across app crashes; WAL keeps it consistent
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            with self._all_lock:
                self._close_dead_threads_connections()
                self._all[conn] = threading.current_thread()
        return conn

    def _close_dead_threads_connections(self) -> None:
        """Close the connections of threads that have ended (caller holds ``_all_lock``)."""
        for conn, owner in list(self._all.items()):
            if not owner.is_alive():
                with suppress(sqlite3.ProgrammingError):
                    conn.close()
                del self._all[conn]

    def open_connections(self) -> int:
        """How many connections this store holds open (one per live thread that used it)."""
        with self._all_lock:
            return len(self._all)

    @contextmanager
    def tx(self, write: bool = True) -> Iterator[Tx]:
        """A transaction on this thread's connection: ``BEGIN IMMEDIATE`` for writes, deferred for reads.

        Writers of this process queue on a mutex first: SQLite's own busy handler sleeps in steps of up
        to 100 ms, which wrecks latency under many threads; the mutex leaves it only cross-process waits.
        """
        conn = self._connection()
        lock = self._write_lock if write else contextlib.nullcontext()
        with lock:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Tx(conn.cursor(), lambda sql: sql)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _lock_for_migration(self, tx: Tx) -> None:
        pass  # BEGIN IMMEDIATE already excludes other writers

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._all_lock:
            for conn in self._all:
                with suppress(sqlite3.ProgrammingError):
                    conn.close()
            self._all.clear()
        self._local = threading.local()


def create_private_file(path: Path) -> None:
    """Create ``path`` (mode 0600) and its missing parent directories (0700) unless it exists.

    Modes are set with chmod after creation, so a permissive umask (022) cannot widen them. An existing
    file or directory keeps the mode its owner gave it.
    """
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.mkdir(directory, 0o700)
            os.chmod(directory, 0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
