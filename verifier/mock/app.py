"""The mock tracker ("Jibra"): a Jira-like login flow in front of the real verifier.

``create_mock_app(verifier)`` returns a FastAPI app. Pages are server-rendered HTML (pages.py); the only
script is static/mock.js (WebAuthn ceremonies and the live activity feed). Everything about factors,
policy and audit is decided by the :class:`verifier.service.Verifier`; this module only keeps browser
sessions and walks the login-transaction state machine (sessions.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import math
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ..errors import VerifierError
from . import pages
from .security import MockSecurityMiddleware
from .sessions import LoginState, Session, SessionStore

SESSION_COOKIE = "jibra_session"
DEVICE_COOKIE = "jibra_device"
ADMIN_GROUPS = ("jira-administrators",)
STATIC_DIR = Path(__file__).with_name("static")
PENDING_STATES = frozenset({LoginState.SECOND_FACTOR, LoginState.ENROL, LoginState.SHOW_BACKUP})

MAX_USERNAME = 150
MAX_PASSWORD = 1024
OTP_RE = re.compile(r"^[0-9]{6,8}$")
BACKUP_RE = re.compile(r"^[A-Za-z0-9-]{4,64}$")
MAX_JSON_BODY = 64 * 1024

RESULT_MESSAGES = {
    "invalid": "That code is not valid. Check the code in your app and try again.",
    "replay": "That code has already been used. Wait for your app to show the next code.",
    "not_enrolled": "This factor is not set up for your account. Choose another way to verify.",
    "expired": "The request expired. Please try again.",
}
KEY_MESSAGES = {
    "invalid": "The security key's answer was not accepted.",
    "counter": "Security key rejected: its signature counter went backwards (a possible cloned key).",
    "not_enrolled": "No security key is registered for this account.",
    "expired": "The security-key request expired. Please try again.",
}


def result_message(result: Any, *, key: bool = False) -> str:
    """A person-readable message for a failed VerifyResult (never echoes the code itself)."""
    reason = str(getattr(result, "reason", "invalid"))
    if reason == "locked":
        retry = getattr(result, "retry_after", None)
        wait = f" Try again in {max(1, math.ceil(retry))} seconds." if retry else " Try again later."
        return "Too many failed attempts: this account is temporarily locked." + wait
    if key and ("counter" in reason or "clone" in reason):
        return KEY_MESSAGES["counter"]
    table = KEY_MESSAGES if key else RESULT_MESSAGES
    return table.get(reason, f"Verification failed ({reason}).")


def login_lock_message(result: Any) -> str:
    """The login page's words for a locked password step (the user's or this address's counter)."""
    retry = getattr(result, "retry_after", None)
    wait = f" Try again in {max(1, math.ceil(retry))} seconds." if retry else " Try again later."
    return "Too many failed login attempts: logging in is temporarily locked." + wait


def as_dict(value: Any) -> dict[str, Any]:
    """A facade return value (dict, dataclass or pydantic model) as a plain dict."""
    if isinstance(value, dict):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return dict(vars(value))


def jsonable(value: Any) -> Any:
    """Make audit events JSON-safe (datetimes, bytes, tuples)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class AuditHub:
    """Fans verifier audit events (published from any thread) out to connected admin WebSockets."""

    def __init__(self) -> None:
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()
        self._lock = threading.Lock()

    def publish(self, event: Any) -> None:
        """Called by the verifier for every audit event; never blocks."""
        payload = jsonable(as_dict(event) if not isinstance(event, dict) else event)
        with self._lock:
            targets = list(self._subscribers)
        for loop, queue in targets:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, payload)
            except RuntimeError:  # the loop is closed: that socket is gone
                self.remove((loop, queue))

    def add(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue]:
        """Register the calling WebSocket's queue."""
        entry = (asyncio.get_running_loop(), asyncio.Queue(maxsize=1000))
        with self._lock:
            self._subscribers.add(entry)
        return entry

    def remove(self, entry: tuple[asyncio.AbstractEventLoop, asyncio.Queue]) -> None:
        """Unregister a closed WebSocket's queue."""
        with self._lock:
            self._subscribers.discard(entry)


def client_ip(request: Request | WebSocket) -> str:
    """The peer's IP (the mock serves loopback directly; no proxy headers are trusted)."""
    return request.client.host if request.client else "0.0.0.0"


def page_origin(request: Request | WebSocket) -> str:
    """The origin the browser is on, e.g. http://localhost:8080 (IP hosts never reach the pages)."""
    scheme = "https" if request.url.scheme in ("https", "wss") else "http"
    return f"{scheme}://{request.headers.get('host', 'localhost')}"


def create_mock_app(verifier: Any, *, admin_groups: tuple[str, ...] = ADMIN_GROUPS, api_app: Any = None,
                    session_idle_seconds: float = 8 * 3600, pending_login_seconds: float = 600,
                    allowed_hosts: tuple[str, ...] = ("localhost",)) -> FastAPI:
    """Build the mock tracker around ``verifier`` (a :class:`verifier.service.Verifier`).

    The mock calls the verifier in process and holds no service token. ``api_app``, when given (the
    verifier's own FastAPI app, with its own service token), is mounted under ``/api``.
    ``allowed_hosts``: the host names served (any other ``Host`` is refused: DNS rebinding); IP
    addresses get the page that says to use localhost.
    ``pending_login_seconds`` bounds the time between the password and the second factor (or enrolment).
    """
    app = FastAPI(title="Jibra mock tracker", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.verifier = verifier
    sessions = SessionStore(idle_seconds=session_idle_seconds)
    hub = AuditHub()
    app.state.sessions = sessions
    app.state.audit_hub = hub
    verifier.subscribe_audit(hub.publish)
    app.add_middleware(MockSecurityMiddleware, allowed_hosts=allowed_hosts)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if api_app is not None:
        app.mount("/api", api_app)

    v = verifier

    # ---- session plumbing -------------------------------------------------------------------------

    def session_of(request: Request) -> Session:
        session = sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            return sessions.new()
        if session.state in PENDING_STATES and time.time() - session.login_started > pending_login_seconds:
            # A password check is not a standing credential: a stale half-finished login starts over.
            sessions.drop(session)
            fresh = sessions.new()
            fresh.flash = "Your login took too long. Please log in again."
            return fresh
        return session

    def finish(request: Request, response: Response, session: Session) -> Response:
        response.set_cookie(SESSION_COOKIE, session.sid, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")
        return response

    def html(request: Request, session: Session, body: str, status: int = 200) -> Response:
        return finish(request, HTMLResponse(body, status_code=status), session)

    def redirect(request: Request, session: Session, url: str) -> Response:
        return finish(request, RedirectResponse(url, status_code=303), session)

    def csrf_failed(request: Request, session: Session) -> Response:
        session.flash = "Your form expired (security token mismatch). Please try again."
        target = "/dashboard" if session.state is LoginState.AUTHENTICATED else "/login"
        if session.state is LoginState.ANONYMOUS:
            return html(request, session, pages.login_page(session.csrf_token, error=session.take_flash()), 403)
        return redirect(request, session, target)

    def where_to(session: Session) -> str:
        return {
            LoginState.ANONYMOUS: "/login",
            LoginState.SECOND_FACTOR: "/2fa",
            LoginState.ENROL: "/enrol",
            LoginState.SHOW_BACKUP: "/backup-codes",
            LoginState.AUTHENTICATED: "/dashboard",
        }[session.state]

    def authenticate(session: Session) -> None:
        session.state = LoginState.AUTHENTICATED
        session.webauthn_state = None
        sessions.rotate(session)

    def policy() -> dict[str, Any]:
        return as_dict(v.get_policy())

    def remember(request: Request, response: Response, username: str) -> None:
        days = int(policy().get("remember_days") or 0)
        if days <= 0:
            return
        token = v.remember_device(username, client_ip(request), request.headers.get("user-agent", ""))
        set_device_cookie(request, response, token, days)

    def set_device_cookie(request: Request, response: Response, token: str, days: int) -> None:
        response.set_cookie(DEVICE_COOKIE, token, max_age=days * 86400, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", path="/")

    def is_admin(username: str) -> bool:
        groups = as_dict(v.user_status(username)).get("groups") or ()
        return any(g in admin_groups for g in groups)

    def after_second_factor(request: Request, session: Session, remember_it: bool) -> Response:
        username = session.username or ""
        authenticate(session)
        response = redirect(request, session, "/dashboard")
        if remember_it:
            remember(request, response, username)
        return response

    @app.exception_handler(VerifierError)
    async def verifier_refused(request: Request, exc: VerifierError) -> Response:
        """A verifier error (unknown user or key, bad policy…) is a clear message, never a 500."""
        status = 404 if exc.code in ("user_not_found", "credential_not_found") else 400
        if request.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse({"ok": False, "reason": exc.code, "message": exc.message}, status)
        session = session_of(request)
        path = request.url.path
        target = where_to(session)
        if session.state is LoginState.AUTHENTICATED and path.startswith(("/admin", "/account")):
            target = "/admin" if path.startswith("/admin") else "/account"
        if request.method == "GET" and target == path:  # the page itself cannot be shown: start over
            sessions.drop(session)
            session, target = sessions.new(), "/login"
        session.flash = exc.message
        return redirect(request, session, target)

    # ---- pages ------------------------------------------------------------------------------------

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/")
    def root(request: Request) -> Response:
        session = session_of(request)
        return redirect(request, session, where_to(session))

    @app.get("/login")
    def login_form(request: Request) -> Response:
        session = session_of(request)
        if session.state is LoginState.AUTHENTICATED:
            return redirect(request, session, "/dashboard")
        return html(request, session, pages.login_page(session.csrf_token, flash=session.take_flash()))

    @app.post("/login")
    def login(request: Request, username: str = Form(""), password: str = Form(""),
              csrf_token: str = Form("")) -> Response:
        session = session_of(request)
        if not session.check_csrf(csrf_token):
            return csrf_failed(request, session)
        username = username.strip()
        if not username or not password or len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
            page = pages.login_page(session.csrf_token, error="Enter your username and password.", username=username)
            return html(request, session, page, 400)
        checked = v.verify_password(username, password, client_ip(request), request.headers.get("user-agent", ""))
        if not checked.ok:
            # Per user and per client IP, like the second factor: password guessing backs off too.
            locked = checked.reason == "locked"
            error = login_lock_message(checked) if locked else "Wrong username or password."
            page = pages.login_page(session.csrf_token, error=error, username=username)
            return html(request, session, page, 429 if locked else 401)
        session.username = username
        session.state = LoginState.SECOND_FACTOR
        session.login_started = time.time()
        sessions.rotate(session)
        ip = client_ip(request)
        if not v.second_factor_required(username, ip):
            authenticate(session)
            return redirect(request, session, "/dashboard")
        device = request.cookies.get(DEVICE_COOKIE)
        if device and len(device) <= 512:
            rotated = v.check_device(username, device)
            if rotated:
                authenticate(session)
                response = redirect(request, session, "/dashboard")
                set_device_cookie(request, response, rotated, max(1, int(policy().get("remember_days") or 1)))
                return response
        status = as_dict(v.user_status(username))
        if not status.get("totp") and not status.get("webauthn"):
            session.state = LoginState.ENROL
            return redirect(request, session, "/enrol")
        return redirect(request, session, "/2fa")

    @app.post("/login/cancel")
    def login_cancel(request: Request, csrf_token: str = Form("")) -> Response:
        session = session_of(request)
        if not session.check_csrf(csrf_token):
            return csrf_failed(request, session)
        if session.state is not LoginState.AUTHENTICATED:
            sessions.drop(session)
            session = sessions.new()
        return redirect(request, session, where_to(session))

    @app.get("/2fa")
    def second_factor_form(request: Request) -> Response:
        session = session_of(request)
        if session.state is not LoginState.SECOND_FACTOR:
            return redirect(request, session, where_to(session))
        return html(request, session, second_factor_html(session, session.take_flash()))

    def second_factor_html(session: Session, error: str | None) -> str:
        status = as_dict(v.user_status(session.username or ""))
        return pages.second_factor_page(session.csrf_token, session.username or "", error=error,
                                        has_totp=bool(status.get("totp")), keys=int(status.get("webauthn") or 0),
                                        backup_left=int(status.get("backup_codes_left") or 0))

    @app.post("/2fa")
    def second_factor(request: Request, code: str = Form(""), remember: str = Form(""),
                      csrf_token: str = Form("")) -> Response:
        session = session_of(request)
        if not session.check_csrf(csrf_token):
            return csrf_failed(request, session)
        if session.state is not LoginState.SECOND_FACTOR:
            return redirect(request, session, where_to(session))
        code = "".join(code.split())
        if not OTP_RE.match(code):
            return html(request, session, second_factor_html(session, "Enter the 6-digit code from your app."), 400)
        result = v.verify_totp(session.username, code, client_ip(request), request.headers.get("user-agent", ""))
        if not result.ok:
            return html(request, session, second_factor_html(session, result_message(result)), 401)
        return after_second_factor(request, session, remember == "1")

    @app.get("/2fa/backup")
    def backup_form(request: Request) -> Response:
        session = session_of(request)
        if session.state is not LoginState.SECOND_FACTOR:
            return redirect(request, session, where_to(session))
        return html(request, session, pages.backup_code_page(session.csrf_token, session.username or ""))

    @app.post("/2fa/backup")
    def backup(request: Request, code: str = Form(""), remember: str = Form(""),
               csrf_token: str = Form("")) -> Response:
        session = session_of(request)
        if not session.check_csrf(csrf_token):
            return csrf_failed(request, session)
        if session.state is not LoginState.SECOND_FACTOR:
            return redirect(request, session, where_to(session))
        code = "".join(code.split())
        if not BACKUP_RE.match(code):
            page = pages.backup_code_page(session.csrf_token, session.username or "",
                                          error="Enter one of your backup codes.")
            return html(request, session, page, 400)
        result = v.verify_backup_code(session.username, code, client_ip(request),
                                      request.headers.get("user-agent", ""))
        if not result.ok:
            page = pages.backup_code_page(session.csrf_token, session.username or "", error=result_message(result))
            return html(request, session, page, 401)
        return after_second_factor(request, session, remember == "1")

    @app.get("/enrol")
    def enrol_form(request: Request) -> Response:
        session = session_of(request)
        if session.state is not LoginState.ENROL:
            return redirect(request, session, where_to(session))
        enrolment = v.totp_enroll_begin(session.username)
        return html(request, session, pages.first_login_enrol_page(session.csrf_token, session.username or "",
                                                                    as_dict(enrolment)))

    @app.post("/enrol")
    def enrol(request: Request, code: str = Form(""), csrf_token: str = Form("")) -> Response:
        session = session_of(request)
        if not session.check_csrf(csrf_token):
            return csrf_failed(request, session)
        if session.state is not LoginState.ENROL:
            return redirect(request, session, where_to(session))
        code = "".join(code.split())
        result = None
        if OTP_RE.match(code):
            result = v.totp_enroll_confirm(session.username, code, client_ip(request),
                                           request.headers.get("user-agent", ""))
            if result.ok:
                session.pending_backup_codes = list(v.generate_backup_codes(session.username))
                session.state = LoginState.SHOW_BACKUP
                sessions.rotate(session)
                return redirect(request, session, "/backup-codes")
        error = result_message(result) if result else "Enter the 6-digit code from your app."
        # A fresh secret each time the page is shown would confuse a user who already scanned it, so the
        # verifier keeps the pending secret; begin again returns the same pending enrolment or a new one.
        enrolment = as_dict(v.totp_enroll_begin(session.username))
        page = pages.first_login_enrol_page(session.csrf_token, session.username or "", enrolment, error=error)
        return html(request, session, page, 400 if result is None else 401)

    @app.get("/backup-codes")
    def backup_codes(request: Request) -> Response:
        session = session_of(request)
        if not session.pending_backup_codes:
            return redirect(request, session, where_to(session))
        codes, session.pending_backup_codes = session.pending_backup_codes, []
        next_url = "/account" if session.state is LoginState.AUTHENTICATED else "/dashboard"
        return html(request, session, pages.backup_codes_page(session.csrf_token, codes, next_url=next_url))

    @app.post("/backup-codes/ack")
    def backup_codes_ack(request: Request, csrf_token: str = Form(""), next: str = Form("")) -> Response:
        session = session_of(request)
        if not session.check_csrf(csrf_token):
            return csrf_failed(request, session)
        if session.state is LoginState.SHOW_BACKUP:
            authenticate(session)
        target = "/account" if next == "/account" else "/dashboard"  # never an open redirect
        return redirect(request, session, target if session.state is LoginState.AUTHENTICATED else where_to(session))

    @app.post("/logout")
    def logout(request: Request, csrf_token: str = Form("")) -> Response:
        session = session_of(request)
        if not session.check_csrf(csrf_token):
            return csrf_failed(request, session)
        sessions.drop(session)
        fresh = sessions.new()
        fresh.flash = "You have been logged out."
        return redirect(request, fresh, "/login")

    @app.get("/dashboard")
    def dashboard(request: Request) -> Response:
        session = session_of(request)
        if session.state is not LoginState.AUTHENTICATED:
            return redirect(request, session, where_to(session))
        return html(request, session, pages.dashboard_page(session.csrf_token, session.username or "",
                                                           flash=session.take_flash()))

    # ---- account ----------------------------------------------------------------------------------

    def signed_in(request: Request) -> Session | None:
        session = session_of(request)
        return session if session.state is LoginState.AUTHENTICATED else None

    def account_html(session: Session) -> str:
        username = session.username or ""
        status = as_dict(v.user_status(username))
        creds = [as_dict(c) for c in v.list_credentials(username)]
        return pages.account_page(session.csrf_token, username, status, creds, flash=session.take_flash(),
                                  totp_removable=hasattr(v, "totp_remove"))

    @app.get("/account")
    def account(request: Request) -> Response:
        session = signed_in(request)
        if session is None:
            return redirect(request, session_of(request), "/login")
        return html(request, session, account_html(session))

    @app.get("/account/totp")
    def account_totp_form(request: Request) -> Response:
        session = signed_in(request)
        if session is None:
            return redirect(request, session_of(request), "/login")
        enrolment = as_dict(v.totp_enroll_begin(session.username))
        return html(request, session, pages.account_totp_page(session.csrf_token, session.username or "", enrolment))

    @app.post("/account/totp")
    def account_totp(request: Request, code: str = Form(""), csrf_token: str = Form("")) -> Response:
        session = signed_in(request)
        if session is None:
            return redirect(request, session_of(request), "/login")
        if not session.check_csrf(csrf_token):
            return csrf_failed(request, session)
        code = "".join(code.split())
        result = None
        if OTP_RE.match(code):
            result = v.totp_enroll_confirm(session.username, code, client_ip(request),
                                           request.headers.get("user-agent", ""))
            if result.ok:
                session.flash = "Authenticator app turned on."
                return redirect(request, session, "/account")
        error = result_message(result) if result else "Enter the 6-digit code from your app."
        enrolment = as_dict(v.totp_enroll_begin(session.username))
        page = pages.account_totp_page(session.csrf_token, session.username or "", enrolment, error=error)
        return html(request, session, page, 400 if result is None else 401)

    @app.post("/account/totp/remove")
    def account_totp_remove(request: Request, csrf_token: str = Form("")) -> Response:
        session = signed_in(request)
        if session is None:
            return redirect(request, session_of(request), "/login")
        if not session.check_csrf(csrf_token):
            return csrf_failed(request, session)
        v.totp_remove(session.username, actor=session.username)
        session.flash = "Authenticator app removed."
        return redirect(request, session, "/account")

    @app.post("/account/backup-codes")
    def account_backup_codes(request: Request, csrf_token: str = Form("")) -> Response:
        session = signed_in(request)
        if session is None:
            return redirect(request, session_of(request), "/login")
        if not session.check_csrf(csrf_token):
            return csrf_failed(request, session)
        session.pending_backup_codes = list(v.generate_backup_codes(session.username))
        return redirect(request, session, "/backup-codes")

    @app.post("/account/devices/revoke")
    def account_revoke_devices(request: Request, csrf_token: str = Form("")) -> Response:
        session = signed_in(request)
        if session is None:
            return redirect(request, session_of(request), "/login")
        if not session.check_csrf(csrf_token):
            return csrf_failed(request, session)
        v.revoke_devices(session.username)
        session.flash = "Every remembered device has been forgotten."
        response = redirect(request, session, "/account")
        response.delete_cookie(DEVICE_COOKIE, path="/")
        return response

    @app.post("/account/keys/rename")
    def account_key_rename(request: Request, credential_id: str = Form(""), name: str = Form(""),
                           csrf_token: str = Form("")) -> Response:
        session = signed_in(request)
        if session is None:
            return redirect(request, session_of(request), "/login")
        if not session.check_csrf(csrf_token):
            return csrf_failed(request, session)
        name = name.strip()
        if not name or len(name) > 64 or not credential_id:
            session.flash = "A key name must be 1 to 64 characters."
        else:
            v.rename_credential(session.username, credential_id, name)
            session.flash = "Security key renamed."
        return redirect(request, session, "/account")

    @app.post("/account/keys/remove")
    def account_key_remove(request: Request, credential_id: str = Form(""), csrf_token: str = Form("")) -> Response:
        session = signed_in(request)
        if session is None:
            return redirect(request, session_of(request), "/login")
        if not session.check_csrf(csrf_token):
            return csrf_failed(request, session)
        v.remove_credential(session.username, credential_id)
        session.flash = "Security key removed."
        return redirect(request, session, "/account")

    # ---- WebAuthn (JSON; CSRF token in the X-CSRF-Token header) -------------------------------------

    async def json_body(request: Request) -> dict[str, Any] | None:
        raw = await request.body()
        if len(raw) > MAX_JSON_BODY:
            return None
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def json_error(request: Request, session: Session, status: int, reason: str, message: str) -> Response:
        return finish(request, JSONResponse({"ok": False, "reason": reason, "message": message}, status), session)

    def webauthn_guard(request: Request, session: Session, want: LoginState) -> Response | None:
        if not session.check_csrf(request.headers.get("x-csrf-token")):
            return json_error(request, session, 403, "csrf", "Security token mismatch; reload the page.")
        if session.state is not want:
            return json_error(request, session, 409, "state", "This page is out of date; reload it.")
        return None

    async def begin_ceremony(request: Request, session: Session, begin: Callable[..., Any]) -> Response:
        """Start a WebAuthn ceremony; its single-use state id stays in the session, never in the page."""
        try:
            options, state_id = await run_sync(begin, session.username, page_origin(request))
        except Exception as exc:  # e.g. an origin the verifier does not serve: say so, never a 500
            return json_error(request, session, 400, getattr(exc, "code", "bad_request"), str(exc))
        session.webauthn_state = state_id
        return finish(request, JSONResponse({"ok": True, "options": jsonable(options)}), session)

    @app.post("/2fa/webauthn/begin")
    async def login_key_begin(request: Request) -> Response:
        session = session_of(request)
        if (bad := webauthn_guard(request, session, LoginState.SECOND_FACTOR)) is not None:
            return bad
        status = as_dict(await run_sync(v.user_status, session.username))
        if not status.get("webauthn"):
            # Asking the browser anyway would leave it waiting for a key that can never answer.
            return json_error(request, session, 409, "not_enrolled", KEY_MESSAGES["not_enrolled"])
        return await begin_ceremony(request, session, v.webauthn_authenticate_begin)

    @app.post("/2fa/webauthn/complete")
    async def login_key_complete(request: Request) -> Response:
        session = session_of(request)
        if (bad := webauthn_guard(request, session, LoginState.SECOND_FACTOR)) is not None:
            return bad
        body = await json_body(request)
        if body is None or not isinstance(body.get("credential"), dict) or not session.webauthn_state:
            return json_error(request, session, 400, "bad_request", "Malformed security-key response.")
        state_id, session.webauthn_state = session.webauthn_state, None
        try:
            result = await run_sync(v.webauthn_authenticate_complete, session.username, state_id, body["credential"],
                                    client_ip(request), request.headers.get("user-agent", ""))
        except Exception as exc:  # a malformed response must never become a 500
            return json_error(request, session, 400, getattr(exc, "code", "bad_request"),
                              f"The security key's answer was rejected: {exc}")
        if not result.ok:
            return json_error(request, session, 401, str(result.reason), result_message(result, key=True))
        username = session.username or ""
        authenticate(session)
        response = finish(request, JSONResponse({"ok": True, "redirect": "/dashboard"}), session)
        if body.get("remember") is True:
            await run_sync(remember, request, response, username)
        return response

    @app.post("/account/keys/begin")
    async def register_key_begin(request: Request) -> Response:
        session = session_of(request)
        if (bad := webauthn_guard(request, session, LoginState.AUTHENTICATED)) is not None:
            return bad
        return await begin_ceremony(request, session, v.webauthn_register_begin)

    @app.post("/account/keys/complete")
    async def register_key_complete(request: Request) -> Response:
        session = session_of(request)
        if (bad := webauthn_guard(request, session, LoginState.AUTHENTICATED)) is not None:
            return bad
        body = await json_body(request)
        name = str((body or {}).get("name") or "Security key").strip()[:64] or "Security key"
        if body is None or not isinstance(body.get("credential"), dict) or not session.webauthn_state:
            return json_error(request, session, 400, "bad_request", "Malformed security-key response.")
        state_id, session.webauthn_state = session.webauthn_state, None
        try:
            await run_sync(v.webauthn_register_complete, session.username, state_id, body["credential"], name)
        except Exception as exc:  # a malformed response must never become a 500
            return json_error(request, session, 400, getattr(exc, "code", "bad_request"),
                              f"The security key could not be registered: {exc}")
        session.flash = f"Security key “{name}” registered."
        return finish(request, JSONResponse({"ok": True, "redirect": "/account"}), session)

    # ---- admin ------------------------------------------------------------------------------------

    def admin_session(request: Request) -> tuple[Session, Response | None]:
        session = session_of(request)
        if session.state is not LoginState.AUTHENTICATED:
            return session, redirect(request, session, where_to(session))
        if not is_admin(session.username or ""):
            return session, html(request, session, pages.forbidden_page(session.csrf_token, session.username or ""),
                                 403)
        return session, None

    def known_users() -> list[dict[str, Any]]:
        names = v.list_users() if hasattr(v, "list_users") else []
        rows = []
        for name in names:
            name = name if isinstance(name, str) else as_dict(name).get("username")
            rows.append(as_dict(v.user_status(name)))
        return rows

    def recent_events() -> list[dict[str, Any]]:
        try:
            events = v.audit(limit=50)
        except TypeError:
            events = v.audit()[-50:]
        # The audit answers oldest first; the feed shows the newest on top (as the live lines arrive).
        return [jsonable(as_dict(ev)) for ev in reversed(list(events))]

    @app.get("/admin")
    def admin(request: Request) -> Response:
        session, denied = admin_session(request)
        if denied is not None:
            return denied
        page = pages.admin_page(session.csrf_token, session.username or "", policy(), known_users(),
                                recent_events(), flash=session.take_flash())
        return html(request, session, page)

    def admin_post(request: Request, csrf_token: str) -> tuple[Session, Response | None]:
        session, denied = admin_session(request)
        if denied is not None:
            return session, denied
        if not session.check_csrf(csrf_token):
            return session, csrf_failed(request, session)
        return session, None

    @app.post("/admin/policy")
    def admin_policy(request: Request, mode: str = Form("all"), groups: str = Form(""), ip_allowlist: str = Form(""),
                     remember_days: str = Form("0"), csrf_token: str = Form("")) -> Response:
        session, denied = admin_post(request, csrf_token)
        if denied is not None:
            return denied
        group_list = [g.strip() for g in groups.split(",") if g.strip()]
        nets = [n.strip() for n in ip_allowlist.split() if n.strip()]
        try:
            days = int(remember_days)
            v.set_policy(mode, group_list, nets, days, actor=session.username)
        except (ValueError, TypeError) as exc:
            session.flash = f"Policy not saved: {exc}"
        else:
            session.flash = "Policy saved."
        return redirect(request, session, "/admin")

    @app.post("/admin/reset-user")
    def admin_reset_user(request: Request, username: str = Form(""), csrf_token: str = Form("")) -> Response:
        session, denied = admin_post(request, csrf_token)
        if denied is not None:
            return denied
        try:
            v.reset_user(username, actor=session.username)
        except (ValueError, KeyError, LookupError) as exc:
            session.flash = f"Reset failed: {exc}"
        else:
            session.flash = f"Every factor of {username} has been reset."
        return redirect(request, session, "/admin")

    @app.post("/admin/unlock")
    def admin_unlock(request: Request, username: str = Form(""), csrf_token: str = Form("")) -> Response:
        session, denied = admin_post(request, csrf_token)
        if denied is not None:
            return denied
        v.unlock(username, actor=session.username)
        session.flash = f"{username} is unlocked."
        return redirect(request, session, "/admin")

    @app.post("/admin/revoke-devices")
    def admin_revoke_devices(request: Request, username: str = Form(""), csrf_token: str = Form("")) -> Response:
        session, denied = admin_post(request, csrf_token)
        if denied is not None:
            return denied
        v.revoke_devices(username)
        session.flash = f"Remembered devices of {username} forgotten."
        return redirect(request, session, "/admin")

    @app.post("/admin/reset-group")
    def admin_reset_group(request: Request, group: str = Form(""), csrf_token: str = Form("")) -> Response:
        session, denied = admin_post(request, csrf_token)
        if denied is not None:
            return denied
        group = group.strip()
        if not group:
            session.flash = "Name the group to reset."
        else:
            v.reset_group(group, actor=session.username)
            session.flash = f"Every factor of group {group} has been reset."
        return redirect(request, session, "/admin")

    @app.post("/admin/exclude")
    def admin_exclude(request: Request, username: str = Form(""), until: str = Form(""),
                      csrf_token: str = Form("")) -> Response:
        session, denied = admin_post(request, csrf_token)
        if denied is not None:
            return denied
        try:
            day = dt.date.fromisoformat(until)
            until_ts = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC).timestamp()
            v.exclude_user(username.strip(), until_ts, actor=session.username)
        except (ValueError, KeyError, LookupError) as exc:
            session.flash = f"Exclusion not saved: {exc}"
        else:
            session.flash = f"{username.strip()} is excluded from two-step verification until {until}."
        return redirect(request, session, "/admin")

    @app.websocket("/admin/ws")
    async def admin_ws(websocket: WebSocket) -> None:
        session = sessions.get(websocket.cookies.get(SESSION_COOKIE))
        # Same-origin check: a cookie alone would let another site open this socket (CSWSH).
        same_origin = websocket.headers.get("origin") == page_origin(websocket)
        if (session is None or session.state is not LoginState.AUTHENTICATED or not same_origin
                or not await run_sync(is_admin, session.username or "")):
            await websocket.close(code=4403)
            return
        await websocket.accept()
        entry = hub.add()

        async def forward() -> None:
            while True:
                await websocket.send_text(json.dumps(await entry[1].get()))

        async def until_closed() -> None:
            while True:  # the page sends nothing; this only notices the close
                await websocket.receive_text()

        tasks = [asyncio.create_task(forward()), asyncio.create_task(until_closed())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            for task in tasks:
                task.cancel()
            hub.remove(entry)

    return app


async def run_sync(func, *args):
    """Run a blocking verifier call on a worker thread."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(func, *args)
