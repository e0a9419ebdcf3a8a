"""One visit of a mock page: the browser's session, the login state the page needs, and its CSRF token.

Routes never look a session up themselves. They declare what they need with :func:`page` (HTML forms,
token in the ``csrf_token`` field) or :func:`ceremony` (the WebAuthn JSON calls, token in the
``X-CSRF-Token`` header) and receive a checked :class:`Visit`; a visit that fails a check is answered
by the dependency (:class:`Detour`) and never reaches the route.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.requests import HTTPConnection

from ..service import Verifier
from . import pages
from .sessions import LoginState, Session, SessionStore

SESSION_COOKIE = "jibra_session"
DEVICE_COOKIE = "jibra_device"
PENDING_STATES = frozenset({LoginState.SECOND_FACTOR, LoginState.ENROL, LoginState.SHOW_BACKUP})
HOME_OF_STATE = {
    LoginState.ANONYMOUS: "/login",
    LoginState.SECOND_FACTOR: "/2fa",
    LoginState.ENROL: "/enrol",
    LoginState.SHOW_BACKUP: "/backup-codes",
    LoginState.AUTHENTICATED: "/dashboard",
}


@dataclass(frozen=True)
class BehindGate:
    """The mock as an upstream of the tracker2fa gate: who is signed in is the proxy's ``Remote-User``.

    The header is believed only on connections from ``proxies`` (the proxy that asked the gate); the mock's
    own login pages then lead to the dashboard, and "Log out" leads to the gate's ``logout_url``.
    """

    proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
        ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))
    logout_url: str | None = None

    def remote_user(self, conn: HTTPConnection) -> str | None:
        """The gate's user for this request, or None (no header, or not from a trusted proxy)."""
        try:
            peer = ipaddress.ip_address(conn.client.host) if conn.client else None
        except ValueError:
            return None
        if peer is None or not any(peer in net for net in self.proxies if net.version == peer.version):
            return None
        user = conn.headers.get("remote-user", "").strip()
        return user or None


@dataclass(frozen=True)
class MockContext:
    """What every route of one mock app shares: the verifier, the sessions and the app's settings."""

    verifier: Verifier
    sessions: SessionStore
    admin_groups: tuple[str, ...]
    pending_login_seconds: float
    behind_gate: BehindGate | None = None

    def session_for(self, sid: str | None) -> Session:
        """The live session behind a cookie value, or a new anonymous one."""
        session = self.sessions.get(sid)
        if session is None:
            return self.sessions.new()
        if session.state in PENDING_STATES and time.time() - session.login_started > self.pending_login_seconds:
            # A password check is not a standing credential: a stale half-finished login starts over.
            self.sessions.drop(session)
            fresh = self.sessions.new()
            fresh.flash = "Your login took too long. Please log in again."
            return fresh
        return session

    def is_admin(self, username: str) -> bool:
        """True when ``username`` is in one of the admin groups (blocking: reads the store)."""
        return any(g in self.admin_groups for g in self.verifier.user_status(username).groups)

    def remember_days(self) -> int:
        """How long the policy lets a browser skip the second factor (0: never)."""
        return self.verifier.get_policy().remember_days


def mock_context(conn: HTTPConnection) -> MockContext:
    """The :class:`MockContext` of the app serving ``conn`` (a request or a WebSocket)."""
    return conn.app.state.mock


def client_ip(conn: HTTPConnection) -> str:
    """The peer's IP (the mock serves loopback directly; no proxy headers are trusted)."""
    return conn.client.host if conn.client else "0.0.0.0"


def page_origin(conn: HTTPConnection) -> str:
    """The origin the browser is on, e.g. http://localhost:8080 (IP hosts never reach the pages)."""
    scheme = "https" if conn.url.scheme in ("https", "wss") else "http"
    return f"{scheme}://{conn.headers.get('host', 'localhost')}"


class Detour(Exception):
    """Raised by a dependency: answer the visit with ``response`` instead of running the route."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass
class Visit:
    """One request of one browser session, with the ways a page answers it (each sets the session cookie)."""

    request: Request
    session: Session
    mock: MockContext

    @property
    def verifier(self) -> Verifier:
        return self.mock.verifier

    @property
    def username(self) -> str:
        return self.session.username or ""

    @property
    def csrf(self) -> str:
        return self.session.csrf_token

    @property
    def ip(self) -> str:
        return client_ip(self.request)

    @property
    def is_admin(self) -> bool:
        """May the signed-in user open the admin pages? (Only then do the pages link to them; reads the store.)"""
        return bool(self.session.username) and self.mock.is_admin(self.username)

    @property
    def user_agent(self) -> str:
        return self.request.headers.get("user-agent", "")

    @property
    def secure(self) -> bool:
        return self.request.url.scheme == "https"

    def finish(self, response: Response) -> Response:
        """``response`` with this session's cookie (its id changes at every privilege change)."""
        response.set_cookie(SESSION_COOKIE, self.session.sid, httponly=True, samesite="lax", secure=self.secure,
                            path="/")
        return response

    def html(self, body: str, status: int = 200) -> Response:
        return self.finish(HTMLResponse(body, status_code=status))

    def redirect(self, url: str) -> Response:
        return self.finish(RedirectResponse(url, status_code=303))

    def json(self, payload: dict[str, Any], status: int = 200) -> Response:
        return self.finish(JSONResponse(payload, status))

    def json_error(self, status: int, reason: str, message: str) -> Response:
        return self.json({"ok": False, "reason": reason, "message": message}, status)

    def where_to(self) -> str:
        """The page this session's login state belongs on."""
        return HOME_OF_STATE[self.session.state]

    def restart(self, flash: str | None = None) -> None:
        """Forget this session and carry on with a new anonymous one."""
        self.mock.sessions.drop(self.session)
        self.session = self.mock.sessions.new()
        self.session.flash = flash

    def authenticate(self) -> None:
        """The login is complete: a signed-in session under a new id."""
        self.session.state = LoginState.AUTHENTICATED
        self.session.webauthn_state = None
        self.mock.sessions.rotate(self.session)

    def csrf_failed(self) -> Response:
        """The answer to a form whose security token does not match the session's."""
        self.session.flash = "Your form expired (security token mismatch). Please try again."
        if self.session.state is LoginState.ANONYMOUS:
            return self.html(pages.login_page(self.csrf, error=self.session.take_flash()), 403)
        return self.redirect("/dashboard" if self.session.state is LoginState.AUTHENTICATED else "/login")

    def set_device_cookie(self, response: Response, token: str, days: int) -> None:
        response.set_cookie(DEVICE_COOKIE, token, max_age=days * 86400, httponly=True, samesite="lax",
                            secure=self.secure, path="/")

    def remember_device(self, response: Response, username: str) -> None:
        """Let this browser skip the second factor for the policy's days (nothing when the policy says 0)."""
        days = self.mock.remember_days()
        if days > 0:
            token = self.verifier.remember_device(username, self.ip, self.user_agent)
            self.set_device_cookie(response, token, days)


async def current_visit(request: Request) -> Visit:
    """The visit of ``request`` without any check (async: a session lookup needs no worker thread)."""
    mock = mock_context(request)
    if mock.behind_gate is not None:
        return gate_visit(request, mock, mock.behind_gate)
    return Visit(request, mock.session_for(request.cookies.get(SESSION_COOKIE)), mock)


def gate_visit(request: Request, mock: MockContext, gate: BehindGate) -> Visit:
    """Behind the gate: a signed-in session for the proxy's ``Remote-User`` (a new one when the user changed);
    a request without it never reaches a page."""
    user = gate.remote_user(request)
    if user is None:
        raise Detour(HTMLResponse(pages.behind_gate_page(), status_code=401))
    session = mock.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None or session.username != user or session.state is not LoginState.AUTHENTICATED:
        session = mock.sessions.new()
        session.username, session.state = user, LoginState.AUTHENTICATED
    return Visit(request, session, mock)


VisitDep = Annotated[Visit, Depends(current_visit)]


def _check(visit: Visit, state: LoginState | None, csrf_token: str | None, *, csrf: bool, admin: bool,
           elsewhere: str | None) -> Visit:
    # A signed-in page turns strangers away before it reads their form; a login step checks the form's
    # token first, so that a stale form is told it expired.
    signed_in_page = state is LoginState.AUTHENTICATED
    if csrf and not signed_in_page and not visit.session.check_csrf(csrf_token):
        raise Detour(visit.csrf_failed())
    if state is not None and visit.session.state is not state:
        raise Detour(visit.redirect(elsewhere or visit.where_to()))
    if admin and not visit.mock.is_admin(visit.username):
        raise Detour(visit.html(pages.forbidden_page(visit.csrf, visit.username, visit.mock.admin_groups), 403))
    if csrf and signed_in_page and not visit.session.check_csrf(csrf_token):
        raise Detour(visit.csrf_failed())
    return visit


def page(state: LoginState | None = None, *, csrf: bool = False, admin: bool = False,
         elsewhere: str | None = None) -> Any:
    """The dependency of an HTML page or form: session, then login state, admin rights and CSRF token.

    ``state``: the login state the page needs; any other session is redirected to ``elsewhere`` (default:
    where its own login stands). ``csrf``: the form's ``csrf_token`` must be the session's. ``admin``:
    members of the admin groups only (others get a 403 page). Checks that read the store run on a worker
    thread (the dependencies are sync).
    """
    if csrf:
        def checked_form(visit: VisitDep, csrf_token: Annotated[str, Form()] = "") -> Visit:
            return _check(visit, state, csrf_token, csrf=True, admin=admin, elsewhere=elsewhere)

        return Depends(checked_form)

    def checked_page(visit: VisitDep) -> Visit:
        return _check(visit, state, None, csrf=False, admin=admin, elsewhere=elsewhere)

    return Depends(checked_page)


def ceremony(state: LoginState) -> Any:
    """The dependency of a WebAuthn JSON call: the ``X-CSRF-Token`` header (403), then the state (409)."""

    async def checked_call(visit: VisitDep, x_csrf_token: Annotated[str | None, Header()] = None) -> Visit:
        if not visit.session.check_csrf(x_csrf_token):
            raise Detour(visit.json_error(403, "csrf", "Security token mismatch; reload the page."))
        if visit.session.state is not state:
            raise Detour(visit.json_error(409, "state", "This page is out of date; reload it."))
        return visit

    return Depends(checked_call)
