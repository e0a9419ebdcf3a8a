"""PostgreSQL store (psycopg 3 with a connection pool), for several verifier processes or nodes.

Every compare-and-set is a single ``UPDATE ... WHERE <old value>``: under READ COMMITTED a concurrent
updater of the same row waits, then re-checks the WHERE clause against the committed row, so exactly one
of them changes it.
"""

from __future__ import annotations

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
                                    kwargs={"autocommit": False})
        self._pool.wait(timeout=30)
        self.migrate()

    @contextmanager
    def tx(self, write: bool = True) -> Iterator[Tx]:
        """One transaction on a pooled connection."""
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield Tx(cur, _rewrite)

    def _lock_for_migration(self, tx: Tx) -> None:
        tx.run("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK_ID,))

    def _is_unique_violation(self, exc: Exception) -> bool:
        import psycopg

        return isinstance(exc, psycopg.errors.UniqueViolation)

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()
