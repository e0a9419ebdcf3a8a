"""Browser sessions of the mock tracker and the login-transaction state machine.

A session is a random cookie value mapped to server-side state (nothing secret lives in the cookie).
The login transaction moves through a small set of states; each page checks the state it expects, so a
half-finished login can never reach a page that needs a finished one:

    anonymous --password ok, 2FA not required------------------------------> authenticated
    anonymous --password ok, remembered device-----------------------------> authenticated
    anonymous --password ok, 2FA required, factor enrolled--> second_factor --code/key/backup--> authenticated
    anonymous --password ok, 2FA required, nothing enrolled-> enrol --first code--> show_backup --> authenticated
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum


class LoginState(StrEnum):
    """Where a browser session stands in the login transaction."""

    ANONYMOUS = "anonymous"
    SECOND_FACTOR = "second_factor"
    ENROL = "enrol"
    SHOW_BACKUP = "show_backup"
    AUTHENTICATED = "authenticated"


@dataclass
class Session:
    """Server-side state of one browser session."""

    sid: str
    csrf_token: str
    state: LoginState = LoginState.ANONYMOUS
    username: str | None = None
    # WebAuthn ceremony state id handed out by the verifier (single-use there).
    webauthn_state: str | None = None
    # Backup codes to show exactly once after first-login enrolment or regeneration.
    pending_backup_codes: list[str] = field(default_factory=list)
    # One-shot message shown on the next page (flash).
    flash: str | None = None
    created: float = field(default_factory=time.time)
    # When the password was accepted: a half-finished login expires (see create_mock_app).
    login_started: float = 0.0
    last_seen: float = field(default_factory=time.time)

    def check_csrf(self, token: str | None) -> bool:
        """True when ``token`` is this session's CSRF token (constant-time comparison)."""
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf_token.encode())

    def take_flash(self) -> str | None:
        """Return the pending one-shot message and forget it."""
        message, self.flash = self.flash, None
        return message


class SessionStore:
    """In-memory sessions with an idle timeout. One mock process holds its own sessions."""

    def __init__(self, idle_seconds: float = 8 * 3600, clock=time.time) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._idle = idle_seconds
        self._clock = clock

    def new(self) -> Session:
        """Create an anonymous session with a fresh id and CSRF token."""
        now = self._clock()
        session = Session(sid=secrets.token_urlsafe(32), csrf_token=secrets.token_urlsafe(32),
                          created=now, last_seen=now)
        with self._lock:
            self._expire(now)
            self._sessions[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        """The live session for a cookie value, or None."""
        if not sid:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None or now - session.last_seen > self._idle:
                self._sessions.pop(sid, None)
                return None
            session.last_seen = now
            return session

    def rotate(self, session: Session) -> Session:
        """Give ``session`` a new id (and CSRF token) when its privilege changes: no session fixation."""
        with self._lock:
            self._sessions.pop(session.sid, None)
            session.sid = secrets.token_urlsafe(32)
            session.csrf_token = secrets.token_urlsafe(32)
            self._sessions[session.sid] = session
        return session

    def drop(self, session: Session) -> None:
        """Forget a session (logout)."""
        with self._lock:
            self._sessions.pop(session.sid, None)

    def _expire(self, now: float) -> None:
        stale = [sid for sid, s in self._sessions.items() if now - s.last_seen > self._idle]
        for sid in stale:
            del self._sessions[sid]
