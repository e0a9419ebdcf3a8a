"""Verifier storage: one ``Store`` interface, SQLite (default) and PostgreSQL back ends.

``open_store("sqlite:///path/to/verifier.db" | "postgresql://user@host/db")``
opens the store and applies pending migrations.
"""

from __future__ import annotations

from ..errors import VerifierConfigError
from .base import Store
from .postgres import PostgresStore
from .sqlite import SqliteStore

__all__ = ["Store", "open_store"]


def open_store(url: str) -> Store:
    """Open (and migrate) the store at ``url``."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if not path:
            raise VerifierConfigError("sqlite URL needs a path: sqlite:///path/to/verifier.db")
        return SqliteStore(path)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    raise VerifierConfigError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")
