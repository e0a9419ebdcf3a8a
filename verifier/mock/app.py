"""The mock tracker ("Jibra"): a Jira-like login flow in front of the real verifier.

``create_mock_app(verifier)`` returns a FastAPI app made of one router per page group (routes/). Pages are
server-rendered HTML (pages.py); the only script is static/mock.js (WebAuthn ceremonies and the live
activity feed), with the WebAuthn JSON conversions it shares with the gate's portal (verifier/web/).
Everything about factors, policy and audit is decided by the :class:`verifier.service.Verifier`; the mock
only keeps browser sessions and walks the login-transaction state machine (sessions.py), each route
receiving a checked visit (visit.py).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from ..errors import VerifierError
from ..service import Verifier
from .routes import ROUTERS
from .security import MockSecurityMiddleware
from .sessions import LoginState, SessionStore
from .visit import BehindGate, Detour, MockContext, current_visit

ADMIN_GROUPS = ("jira-administrators",)
STATIC_DIR = Path(__file__).with_name("static")
SHARED_STATIC_DIR = Path(__file__).resolve().parents[1] / "web"


def create_mock_app(verifier: Verifier, *, admin_groups: tuple[str, ...] = ADMIN_GROUPS,
                    api_app: FastAPI | None = None, session_idle_seconds: float = 8 * 3600,
                    pending_login_seconds: float = 600, allowed_hosts: tuple[str, ...] = ("localhost",),
                    behind_gate: BehindGate | None = None) -> FastAPI:
    """Build the mock tracker around ``verifier``.

    The mock calls the verifier in process and holds no service token. ``api_app``, when given (the
    verifier's own FastAPI app, with its own service token), is mounted under ``/api``.
    ``allowed_hosts``: the host names served (any other ``Host`` is refused: DNS rebinding); IP
    addresses get the page that says to use localhost.
    ``pending_login_seconds`` bounds the time between the password and the second factor (or enrolment).
    ``behind_gate``: run as an upstream of the tracker2fa gate, signed in by the proxy's ``Remote-User``.
    """
    app = FastAPI(title="Jibra mock tracker", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.verifier = verifier
    app.state.sessions = SessionStore(idle_seconds=session_idle_seconds)
    app.state.mock = MockContext(verifier, app.state.sessions, tuple(admin_groups), pending_login_seconds,
                                 behind_gate)
    app.add_middleware(MockSecurityMiddleware, allowed_hosts=allowed_hosts)
    app.add_exception_handler(Detour, answer_detour)
    app.add_exception_handler(VerifierError, verifier_refused)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/shared", StaticFiles(directory=SHARED_STATIC_DIR), name="shared")  # verifier/web/: both front ends
    if api_app is not None:
        app.mount("/api", api_app)
    for router in ROUTERS:
        app.include_router(router)
    return app


async def answer_detour(request: Request, exc: Exception) -> Response:
    """A dependency turned the visit away (wrong state, CSRF, not an admin): its answer stands."""
    assert isinstance(exc, Detour)
    return exc.response


async def verifier_refused(request: Request, exc: Exception) -> Response:
    """A verifier error (unknown user or key, bad policy…) is a clear message, never a 500."""
    assert isinstance(exc, VerifierError)
    status = 404 if exc.code in ("user_not_found", "credential_not_found") else 400
    if request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse({"ok": False, "reason": exc.code, "message": exc.message}, status)
    visit = await current_visit(request)
    path = request.url.path
    target = visit.where_to()
    if visit.session.state is LoginState.AUTHENTICATED and path.startswith(("/admin", "/account")):
        target = "/admin" if path.startswith("/admin") else "/account"
    if request.method == "GET" and target == path:  # the page itself cannot be shown: start over
        visit.restart()
        target = "/login"
    visit.session.flash = exc.message
    return visit.redirect(target)
