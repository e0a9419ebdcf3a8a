"""The gate's sessions in the verifier's database (table ``gate_sessions``, schema version 5).

One method per transaction, portable SQL through the store's ``tx`` (SQLite and PostgreSQL alike). Every
single-use step is one compare-and-set the database serialises, so several gate nodes agree:
an upgrade moves a row to a new token hash only ``WHERE token_hash = <old>`` (the old cookie dies, and of
two requests upgrading one session one wins), and the portal's WebAuthn state is taken
``WHERE pending = <the value read>``.

The forward-auth check is :meth:`SessionTable.lookup`: one indexed read (primary key, joined to the
user's row for the live groups), nothing cached, so a revoked session is refused by every node at its
next request.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from .base import Store

SESSION_COLUMNS = ("token_hash, sid, username, domain, level, method, display_name, email, ip, user_agent, "
                   "created, last_seen, expires, pending")
_LOOKUP = ("SELECT s.username, s.domain, s.level, s.display_name, s.email, s.created, s.last_seen, s.pending, "
           "u.groups_json FROM gate_sessions s JOIN users u ON u.username = s.username WHERE s.token_hash = ?")
_LIST = ("SELECT sid, username, domain, level, method, ip, user_agent, created, last_seen, expires "
         "FROM gate_sessions WHERE username = ? ORDER BY created, sid")


@dataclass(frozen=True)
class SessionRow:
    """What the forward-auth check reads of one session (groups from the user's row, live)."""

    username: str
    domain: str
    level: int
    display_name: str | None
    email: str | None
    created: float
    last_seen: float
    pending: str | None
    groups: tuple[str, ...]


@functools.lru_cache(maxsize=1024)  # a user's groups change rarely and their JSON text repeats on every check
def _groups(groups_json: str) -> tuple[str, ...]:
    return tuple(json.loads(groups_json))


class SessionTable:
    """SQL for the gate's sessions over one :class:`~verifier.store.base.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def insert(self, row: dict[str, Any], *, sweep_before: float | None = None) -> None:
        """Store a new session (``row`` has every column); with ``sweep_before``, delete the rows dead by
        then in the same transaction (the sweep rides on logins, never on the forward-auth check)."""
        columns = [c.strip() for c in SESSION_COLUMNS.split(",")]
        with self.store.tx() as tx:
            if sweep_before is not None:
                tx.run("DELETE FROM gate_sessions WHERE expires < ?", (sweep_before,))
            tx.run(f"INSERT INTO gate_sessions ({SESSION_COLUMNS}) VALUES ({', '.join('?' for _ in columns)})",
                   [row.get(c) for c in columns])

    def lookup(self, token_hash: str) -> SessionRow | None:
        """The session behind a token hash, with its user's groups; None when there is none."""
        row = self.store.read_row(_LOOKUP, (token_hash,))
        if row is None:
            return None
        username, domain, level, name, email, created, last_seen, pending, groups = row
        return SessionRow(username, domain, int(level), name, email, float(created), float(last_seen), pending,
                          _groups(groups))

    def touch(self, token_hash: str, now: float, expires: float) -> None:
        """Record activity (the idle clock restarts); called at most once per touch interval per session."""
        with self.store.tx() as tx:
            tx.run("UPDATE gate_sessions SET last_seen = ?, expires = ? WHERE token_hash = ? AND last_seen < ?",
                   (now, expires, token_hash, now))

    def upgrade(self, old_hash: str, new_hash: str, level: int, method: str, now: float, expires: float) -> bool:
        """Move the session to a new token (rotation) at ``level``; False when the old token is no longer
        the session's (revoked, logged out, or another request upgraded it first)."""
        with self.store.tx() as tx:
            return tx.change("UPDATE gate_sessions SET token_hash = ?, level = ?, method = ?, last_seen = ?, "
                             "expires = ?, pending = NULL WHERE token_hash = ? AND level <= ?",
                             (new_hash, level, method, now, expires, old_hash, level)) == 1

    def set_pending(self, token_hash: str, value: str | None) -> bool:
        """Keep the portal's in-flight state (a WebAuthn state id) with the session."""
        with self.store.tx() as tx:
            return tx.change("UPDATE gate_sessions SET pending = ? WHERE token_hash = ?", (value, token_hash)) == 1

    def take_pending(self, token_hash: str, value: str) -> bool:
        """Clear the pending state if it is still ``value``: True for exactly one taker."""
        with self.store.tx() as tx:
            return tx.change("UPDATE gate_sessions SET pending = NULL WHERE token_hash = ? AND pending = ?",
                             (token_hash, value)) == 1

    def delete(self, token_hash: str) -> dict[str, Any] | None:
        """End one session (logout); returns its user and public id, or None when it was gone."""
        with self.store.tx() as tx:
            rows = tx.run("DELETE FROM gate_sessions WHERE token_hash = ? RETURNING username, sid", (token_hash,))
        return rows[0] if rows else None

    def delete_for_user(self, username: str, sid: str | None = None) -> int:
        """End every session of ``username`` (or the one with public id ``sid``); returns how many."""
        with self.store.tx() as tx:
            if sid is None:
                return tx.change("DELETE FROM gate_sessions WHERE username = ?", (username,))
            return tx.change("DELETE FROM gate_sessions WHERE username = ? AND sid = ?", (username, sid))

    def list_for_user(self, username: str) -> list[dict[str, Any]]:
        """The user's sessions as admins see them (never a token or its hash), oldest first."""
        with self.store.tx(write=False) as tx:
            return tx.run(_LIST, (username,))
