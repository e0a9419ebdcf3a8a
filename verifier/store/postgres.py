"""PostgreSQL store (psycopg 3 with a connection pool), for several verifier processes or nodes.

Every compare-and-set is a single ``UPDATE ... WHERE <old value>``: under READ COMMITTED a concurrent
updater of the same row waits, then re-checks the WHERE clause against the committed row, so exactly one
of them changes it.

Connections are in autocommit mode: a write opens an explicit transaction, a read runs its statements
without one. Under READ COMMITTED every statement takes its own snapshot anyway, so BEGIN and COMMIT
around a read bought no consistency, only two round trips per read (the TOTP hot path makes one read).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

from .base import Store, Tx

MIGRATION_LOCK_ID = 0x7472_6B32  # "trk2": pg_advisory_xact_lock key for migrations


def _rewrite(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresStore(Store):
    """The shared store for multi-process deployments."""

    pk_sql = "BIGSERIAL PRIMARY KEY"

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 16) -> None:
        from psycopg_pool import ConnectionPool  # lazily, like psycopg: a SQLite deployment never loads libpq

        self.url = url
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

    def _lock_for_migration(self, tx: Tx) -> None:
        tx.run("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK_ID,))

    def _is_unique_violation(self, exc: Exception) -> bool:
        import psycopg

        return isinstance(exc, psycopg.errors.UniqueViolation)

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()
