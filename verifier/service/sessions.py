"""The gate's login sessions: start, upgrade (with a new token), look up, end, list and revoke.

The gate (verifier/gate/) starts a session after the first factor and upgrades it after the second; the
admin API, the CLI and the mock's admin page list and revoke them. Revocation deletes rows, and the
forward-auth check reads the database at every request, so it holds at the next request on every node.
Tokens never reach the audit log or the admin's view: admins see a session's public id (``sid``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core import sessions as rules
from ..store import Store
from ..store.sessions import SessionRow, SessionTable
from .gate import Gate
from .results import SessionInfo
from .users import require_user

SWEEP_EVERY = 60.0  # seconds between two sweeps of dead rows by one process (they ride on logins)


class Sessions:
    """Login sessions of the forward-auth gate, in the verifier's database."""

    def __init__(self, store: Store, clock: Callable[[], float], gate: Gate) -> None:
        self.table = SessionTable(store)
        self.store = store
        self.clock = clock
        self.gate = gate
        self._last_sweep = 0.0

    def start(self, username: str, domain: str, level: rules.Level, method: str, timeouts: rules.Timeouts, *,
              ip: str, user_agent: str, display_name: str | None = None, email: str | None = None) -> str:
        """A new session after the first factor (or both at once); returns its token (for the cookie only)."""
        require_user(self.store, username)
        token, now = rules.new_token(), self.clock()
        sweep = now if now - self._last_sweep >= SWEEP_EVERY else None
        self.table.insert({
            "token_hash": rules.token_hash(token), "sid": rules.new_sid(), "username": username, "domain": domain,
            "level": int(level), "method": method, "display_name": display_name, "email": email, "ip": ip,
            "user_agent": user_agent[:512], "created": now, "last_seen": now,
            "expires": rules.dead_after(now, now, timeouts), "pending": None,
        }, sweep_before=sweep)
        if sweep is not None:
            self._last_sweep = now
        self.gate.audit("session_started", username=username, method=method, ip=ip, user_agent=user_agent,
                        result="ok", detail=f"{domain}, level {int(level)}")
        return token

    def lookup(self, token: str | None) -> SessionRow | None:
        """The session behind a cookie value (one indexed read), alive or not; None for junk or no row."""
        digest = rules.token_hash(token) if token else None
        return self.table.lookup(digest) if digest else None

    def find(self, token: str | None) -> tuple[str, SessionRow] | None:
        """:meth:`lookup` that also returns the token's hash (the forward-auth check hashes it once)."""
        digest = rules.token_hash(token) if token else None
        row = self.table.lookup(digest) if digest else None
        return (digest, row) if digest and row else None

    def touch(self, token: str, row: SessionRow, timeouts: rules.Timeouts) -> None:
        """Record activity when ``row.last_seen`` is stale (at most once per touch interval)."""
        digest = rules.token_hash(token)
        if digest:
            self.touch_hash(digest, row, timeouts)

    def touch_hash(self, digest: str, row: SessionRow, timeouts: rules.Timeouts) -> None:
        """:meth:`touch` by the token's hash."""
        now = self.clock()
        if rules.needs_touch(row.last_seen, now, timeouts):
            self.table.touch(digest, now, rules.dead_after(row.created, now, timeouts))

    def upgrade(self, token: str, row: SessionRow, level: rules.Level, method: str, timeouts: rules.Timeouts, *,
                ip: str, user_agent: str) -> str | None:
        """Raise the session to ``level`` under a new token (the old cookie dies); None when the old token is
        no longer valid (revoked, logged out, or upgraded by a concurrent request)."""
        old = rules.token_hash(token)
        new_token, now = rules.new_token(), self.clock()
        new = rules.token_hash(new_token)
        if old is None or new is None or not self.table.upgrade(old, new, int(level), method, now,
                                                                 rules.dead_after(row.created, now, timeouts)):
            return None
        self.gate.audit("session_upgraded", username=row.username, method=method, ip=ip, user_agent=user_agent,
                        result="ok", detail=f"{row.domain}, level {int(level)}")
        return new_token

    def set_pending(self, token: str, value: str | None) -> bool:
        """Keep the portal's in-flight state (a WebAuthn state id) with the session."""
        digest = rules.token_hash(token)
        return bool(digest) and self.table.set_pending(digest, value)

    def take_pending(self, token: str, value: str) -> bool:
        """Clear the pending state if it is still ``value``: True for exactly one request."""
        digest = rules.token_hash(token)
        return bool(digest) and self.table.take_pending(digest, value)

    def end(self, token: str | None, *, ip: str, user_agent: str) -> bool:
        """Log out: delete the session; False when there was none."""
        digest = rules.token_hash(token) if token else None
        gone = self.table.delete(digest) if digest else None
        if gone is None:
            return False
        self.gate.audit("session_ended", username=gone["username"], method="logout", ip=ip, user_agent=user_agent,
                        result="ok", detail=f"session {gone['sid']}")
        return True

    def list(self, username: str) -> list[SessionInfo]:
        """The user's sessions (public ids, never tokens), oldest first; raises UserNotFound."""
        require_user(self.store, username)
        return [SessionInfo(**_info(row)) for row in self.table.list_for_user(username)]

    def revoke(self, username: str, sid: str | None = None, actor: str | None = None) -> int:
        """End every session of the user (or the one with public id ``sid``) at their next request."""
        require_user(self.store, username)
        count = self.table.delete_for_user(username, sid)
        self.gate.audit("sessions_revoked", username=username, method="admin", actor=actor, result="ok",
                        detail=f"{count} sessions" + (f" (session {sid})" if sid else ""))
        return count


def _info(row: dict[str, Any]) -> dict[str, Any]:
    return {"sid": row["sid"], "username": row["username"], "domain": row["domain"], "level": int(row["level"]),
            "method": row["method"], "ip": row["ip"], "user_agent": row["user_agent"],
            "created": float(row["created"]), "last_seen": float(row["last_seen"]), "expires": float(row["expires"])}
