"""PostgreSQL store (psycopg 3 with a connection pool), for several verifier processes or nodes.

Every compare-and-set is a single ``UPDATE ... WHERE <old value>``: under READ COMMITTED a concurrent
updater of the same row waits, then re-checks the WHERE clause against the committed row, so exactly one
of them changes it.

Connections are in autocommit mode: a write opens an explicit transaction, a read runs its statements
without one. Under READ COMMITTED every statement takes its own snapshot anyway, so BEGIN and COMMIT
around a read bought no consistency, only two round trips per read.

The TOTP hot path is two statements, so two round trips, as for the simplest possible verifier: one read
(user, factor, counters as a JSON aggregate, and the policy, whose window every check applies) and one write
whose parts are data-modifying ``WITH`` clauses of a single statement (the ledger's compare-and-set, then,
only if it won, clearing the counters and the audit insert), atomic without BEGIN and COMMIT.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .base import (
    AUDIT_FIELDS,
    NOTICES_SETTING,
    OUTBOX_FIELDS,
    POLICY_SETTING,
    SIGN_IN_COLUMNS,
    NewNetwork,
    Store,
    Tx,
    _totp_context,
)

MIGRATION_LOCK_ID = 0x7472_6B32  # "trk2": pg_advisory_xact_lock key for migrations
MAILER_LOCK_CLASS = 0x746D_6C72  # "tmlr": the mail sender's session advisory lock (objid: the schema's hash)
_AUDIT_CASTS = {"ts": "double precision"}  # every other audit column is text
_AUDIT_VALUES = ", ".join(f"?::{_AUDIT_CASTS.get(c, 'text')}" for c in AUDIT_FIELDS)
_MAIL_CASTS = {"created": "double precision", "next_attempt": "double precision"}
_MAIL_VALUES = ", ".join(f"?::{_MAIL_CASTS.get(c, 'text')}" for c in OUTBOX_FIELDS)
_TOTP_CONTEXT = (
    "SELECT u.username IS NOT NULL AS user_exists, t.username AS factor_of, t.secret_enc, t.digits, t.period, "
    "t.algorithm, t.last_step, t.drift, t.window_steps, (SELECT json_agg(json_build_array(f.counter_key, f.count, "
    "f.locked_until)) FROM failures f WHERE f.counter_key = ANY(?)) AS failures, "
    f"(SELECT s.value FROM settings s WHERE s.name = ?) AS policy, {SIGN_IN_COLUMNS} "
    "FROM (SELECT 1) AS one LEFT JOIN users u ON u.username = ? LEFT JOIN totp t ON t.username = u.username")


@functools.lru_cache(maxsize=256)
def _rewrite(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresStore(Store):
    """The shared store for multi-process deployments."""

    pk_sql = "BIGSERIAL PRIMARY KEY"
    skip_locked = " FOR UPDATE SKIP LOCKED"  # two senders never claim one mail: each skips the other's rows

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 16) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool  # lazily, like psycopg: a SQLite deployment never loads libpq

        self.url = url
        self._psycopg = psycopg
        self._readers = threading.local()  # read_row's connection per thread (the gate's check threads)
        self._readers_lock = threading.Lock()
        self._reader_connections: list[Any] = []
        self._pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=True,
                                    kwargs={"autocommit": True})
        self._pool.wait(timeout=30)
        self.migrate()

    @contextmanager
    def tx(self, write: bool = True) -> Iterator[Tx]:
        """A transaction on a pooled connection for writes; for reads, statements on one connection."""
        with self._pool.connection() as conn, contextlib.ExitStack() as stack:
            if write:
                stack.enter_context(conn.transaction())
            with conn.cursor() as cur:
                yield Tx(cur, _rewrite)

    def read_row(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """As :meth:`Store.read_row`, on a connection of the calling thread's own with a prepared statement.

        The gate's forward-auth check runs it on every proxied request from a few threads of its own
        (verifier/gate/authz_server.py), and the pool's check-out and check-in cost more CPU than the read
        (51 against 24 µs measured here). A broken connection (a database restart) is replaced once.
        """
        statement = _rewrite(sql)
        for attempt in (1, 2):
            cursor = getattr(self._readers, "cursor", None)
            if cursor is None or cursor.closed or cursor.connection.closed:
                cursor = self._open_reader()
            try:
                cursor.execute(statement, tuple(params), prepare=True)
                return cursor.fetchone()
            except self._psycopg.OperationalError:
                with contextlib.suppress(Exception):
                    cursor.connection.close()
                self._readers.cursor = None
                if attempt == 2:
                    raise
        return None

    def _open_reader(self) -> Any:
        conn = self._psycopg.connect(self.url, autocommit=True)
        with self._readers_lock:
            self._reader_connections.append(conn)
        self._readers.cursor = conn.cursor()
        return self._readers.cursor

    def totp_context(self, username: str, counter_keys: Sequence[str], network: str | None = None) -> dict[str, Any]:
        """As :meth:`Store.totp_context`, in one statement."""
        with self.tx(write=False) as tx:
            row = tx.run(_TOTP_CONTEXT, (list(counter_keys), POLICY_SETTING, network, NOTICES_SETTING, username))[0]
        failures = {key: (count, locked_until) for key, count, locked_until in row.pop("failures") or ()}
        return _totp_context(row, failures)

    def accept_totp_step(self, username: str, new_step: int, drift: int, clear_keys: Sequence[str],
                         audit: dict[str, Any], network: NewNetwork | None = None) -> int | None:
        """As :meth:`Store.accept_totp_step`, in one statement (no BEGIN/COMMIT round trips). A sign-in from a
        known network (the usual one) runs the statement it always ran; a new network adds two clauses."""
        parts = []
        params: list[Any] = [new_step, drift, username, new_step]
        if clear_keys:
            parts.append("cleared AS (DELETE FROM failures WHERE counter_key = ANY(?) AND EXISTS (SELECT 1 FROM "
                         "advanced))")
            params.append(list(clear_keys))
        if network is not None:
            parts.append("net AS (INSERT INTO sign_in_networks (username, network, first_seen) SELECT ?::text, "
                         "?::text, ?::double precision WHERE EXISTS (SELECT 1 FROM advanced) ON CONFLICT "
                         "(username, network) DO NOTHING RETURNING 1)")
            params += [username, network.network, audit["ts"]]
            if network.mail is not None:  # only the sign-in that recorded the network mails it
                parts.append(f"mailed AS (INSERT INTO outbox ({', '.join(OUTBOX_FIELDS)}) SELECT {_MAIL_VALUES} "
                             "WHERE EXISTS (SELECT 1 FROM net))")
                params += [network.mail[c] for c in OUTBOX_FIELDS]
        sql = ("WITH advanced AS (UPDATE totp SET last_step = ?, drift = ? WHERE username = ? AND last_step < ? "
               f"RETURNING 1){''.join(', ' + part for part in parts)} "
               f"INSERT INTO audit ({', '.join(AUDIT_FIELDS)}) SELECT {_AUDIT_VALUES} "
               "WHERE EXISTS (SELECT 1 FROM advanced) RETURNING id")
        params += [audit.get(c) for c in AUDIT_FIELDS]
        with self.tx(write=False) as tx:  # one statement: atomic on its own
            rows = tx.run(sql, params)
        return rows[0]["id"] if rows else None

    def _lock_for_migration(self, tx: Tx) -> None:
        tx.run("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK_ID,))

    def try_mailer_lock(self) -> _AdvisoryLock | None:
        """A session advisory lock on a connection of its own (not the pool's): PostgreSQL releases it when that
        connection ends, so a sender that dies (or loses the database) frees it for another node's sender. Keyed
        by the schema too, so deployments sharing one database in different schemas each have their sender."""
        import psycopg

        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        try:
            row = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))",
                               (MAILER_LOCK_CLASS,)).fetchone()
        except Exception:
            conn.close()
            raise
        if not row or not row[0]:
            conn.close()
            return None
        return _AdvisoryLock(conn)

    def _is_unique_violation(self, exc: Exception) -> bool:
        import psycopg

        return isinstance(exc, psycopg.errors.UniqueViolation)

    def close(self) -> None:
        """Close the pool and the readers' connections."""
        self._pool.close()
        with self._readers_lock:
            for conn in self._reader_connections:
                with contextlib.suppress(Exception):
                    conn.close()
            self._reader_connections.clear()


class _AdvisoryLock:
    """The mail sender's session advisory lock and the connection that holds it."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def held(self) -> bool:
        """True while the holding connection still answers (the lock lives exactly as long as it)."""
        try:
            self._conn.execute("SELECT 1")
        except Exception:
            return False
        return True

    def release(self) -> None:
        with contextlib.suppress(Exception):
            # Unlocked before the close: a closed session's locks are freed only when its server process has
            # ended, a moment after the client let go (a standby asking at once would still find it held).
            self._conn.execute("SELECT pg_advisory_unlock(%s, hashtext(current_schema()))", (MAILER_LOCK_CLASS,))
        with contextlib.suppress(Exception):
            self._conn.close()
