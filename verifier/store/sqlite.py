"""SQLite store: WAL journal, one connection per thread, ``BEGIN IMMEDIATE`` for every write transaction.

``BEGIN IMMEDIATE`` takes SQLite's single write lock up front, so each compare-and-set runs alone even
across processes sharing the file. Writers first queue on a lock of their own, a mutex within the process
and ``flock`` on ``<db>-writer`` across processes (``serve --workers N``): the kernel wakes the next writer
the moment the lock is free, where SQLite's busy handler polls with sleeps of 1 to 100 ms. ``busy_timeout``
still covers writers outside tracker2fa (the ``sqlite3`` shell). Reads run without BEGIN: each statement
sees a committed state, as on PostgreSQL under READ COMMITTED, and a read costs no extra round trips.

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
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from ..errors import VerifierConfigError
from .base import Store, Tx

BUSY_TIMEOUT_MS = 30_000


class SqliteStore(Store):
    """The embedded default store."""

    pk_sql = "INTEGER PRIMARY KEY AUTOINCREMENT"
    calls_are_brief = True

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
        self._writer_file = open_writer_lock(Path(self.path))
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
        """A transaction on this thread's connection for writes (``BEGIN IMMEDIATE``); for reads, its
        statements in autocommit mode.

        Writers queue on the process's mutex, then on the file lock shared with the other processes, so
        SQLite's own busy handler (sleeps of up to 100 ms) is never what makes them wait.
        """
        conn = self._connection()
        if not write:
            yield Tx(conn.cursor(), _same)
            return
        with self._write_lock, writer_lock(self._writer_file):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(conn.cursor(), _same)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def read_row(self, sql: str, params: tuple = ()) -> tuple | None:
        """As :meth:`Store.read_row`: one statement on this thread's connection, no wrapper objects."""
        # fetchall steps the statement to its end: no read transaction is left open on the connection.
        rows = self._connection().execute(sql, params).fetchall()
        return rows[0] if rows else None

    def _lock_for_migration(self, tx: Tx) -> None:
        pass  # BEGIN IMMEDIATE already excludes other writers

    def try_mailer_lock(self) -> _FileLock | None:
        """``flock`` of ``<db>-mailer`` (0600), without waiting: the kernel releases it when the holder dies."""
        if fcntl is None:
            return _FileLock(None)  # Windows: no flock; the leases of claimed mails still keep senders apart
        path = Path(self.path).with_name(Path(self.path).name + "-mailer")
        try:
            create_private_file(path)
            file = open(path, "rb")  # noqa: SIM115 (held until release())
        except OSError as exc:
            raise VerifierConfigError(f"cannot open the mail sender's lock {path}: {exc.strerror}") from None
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            file.close()
            return None
        return _FileLock(file)

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._all_lock:
            for conn in self._all:
                with suppress(sqlite3.ProgrammingError):
                    conn.close()
            self._all.clear()
        self._local = threading.local()
        if self._writer_file is not None:
            self._writer_file.close()
            self._writer_file = None


def _same(sql: str) -> str:
    return sql


class _FileLock:
    """The mail sender's ``flock`` and the open file that holds it."""

    def __init__(self, file: BinaryIO | None) -> None:
        self._file = file

    def held(self) -> bool:
        return True  # a flock lasts while the file is open in this process

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the last descriptor releases the flock
            self._file = None


def open_writer_lock(db: Path) -> BinaryIO | None:
    """The file beside the database whose ``flock`` writers take (0600); None where there is no flock."""
    if fcntl is None:
        return None  # Windows: SQLite's busy handler alone orders the processes
    path = db.with_name(db.name + "-writer")
    try:
        create_private_file(path)
        return open(path, "rb")  # held for the store's lifetime, closed by close()
    except OSError as exc:
        raise VerifierConfigError(f"cannot open the writer lock {path}: {exc.strerror}") from None


@contextmanager
def writer_lock(file: BinaryIO | None) -> Iterator[None]:
    """Hold the cross-process writer lock (released by the kernel if the process dies holding it)."""
    if file is None:
        yield
        return
    fcntl.flock(file, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(file, fcntl.LOCK_UN)


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
