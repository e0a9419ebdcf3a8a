"""Verifier storage: one ``Store`` interface, SQLite (default) and PostgreSQL back ends.

``open_store("sqlite:///path/to/verifier.db" | "postgresql://user@host/db")``
opens the store and applies pending migrations.
"""

from __future__ import annotations

from ..errors import VerifierConfigError
from .base import Store
from .postgres import PostgresStore
from .sqlite import SqliteStore

__all__ = ["Store", "check_url", "open_store"]


def check_url(url: str) -> str:
    """``url`` if it names a store this verifier has (SQLite or PostgreSQL); else VerifierConfigError saying so."""
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise VerifierConfigError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")
    return url


def open_store(url: str) -> Store:
    """Open (and migrate) the store at ``url``."""
    check_url(url)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if not path:
            raise VerifierConfigError("sqlite URL needs a path: sqlite:///path/to/verifier.db")
        return SqliteStore(path)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    raise VerifierConfigError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")
