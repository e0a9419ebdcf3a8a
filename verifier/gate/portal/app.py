"""The portal app: its pages, its script, and the checks every portal request passes first.

:class:`PortalGuard` (outermost) serves only the configured portal hosts (any other ``Host`` gets 400: a
page on a rebinding attacker's domain never reaches the login form), refuses a POST whose ``Origin`` is not
the portal's (cross-site request forgery, login CSRF included: browsers send ``Origin`` on every POST, the portal's own
origin as long as the referrer policy is not ``no-referrer``), and
puts the security headers on every answer. ``form-action`` lets a form's redirect go to the domain's
hosts, where ``rd`` leads, and nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from ...errors import VerifierError
from ..config import DomainConfig, GateConfig
from ..urls import is_local_name
from . import pages
from .routes import router
from .visit import PortalContext

STATIC_DIR = Path(__file__).with_name("static")
SHARED_STATIC_DIR = Path(__file__).resolve().parents[2] / "web"
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # same-origin, not no-referrer: under no-referrer browsers send "Origin: null" with the portal's own
    # forms, and Origin is what tells them from a cross-site post. Other sites still get no Referer (rd).
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"permissions-policy", b"publickey-credentials-get=(self), publickey-credentials-create=(self), camera=()"),
]


def content_security_policy(domain: DomainConfig) -> bytes:
    """Scripts and styles from the portal only; forms (and their redirects) to the domain's hosts."""
    scheme = "http" if is_local_name(domain.domain) else "https"
    targets = f"{scheme}://{domain.domain}:* {scheme}://*.{domain.domain}:*"
    if scheme == "http":
        targets += f" https://{domain.domain}:* https://*.{domain.domain}:*"
    return (f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            f"object-src 'none'; base-uri 'none'; form-action 'self' {targets}; frame-ancestors 'none'").encode()


class PortalGuard:
    """Host allowlist, same-origin POSTs and security headers for the portal (pure ASGI)."""

    def __init__(self, app: Any, config: GateConfig) -> None:
        self.app = app
        self.config = config
        self._csp = {d.domain: content_security_policy(d) for d in config.domains}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if scope["path"] == "/healthz":
            await _plain(send, 200, b'{"status":"ok"}', b"application/json")
            return
        domain = self.config.portal_for(headers.get(b"host", b"").decode("latin-1"))
        if domain is None:
            await _plain(send, 400, b"This gate serves no portal under that host name.", b"text/plain")
            return
        extra = [*_HEADERS, (b"content-security-policy", self._csp[domain.domain])]
        if domain.portal.startswith("https://"):
            extra.append((b"strict-transport-security", b"max-age=31536000"))
        if scope["method"] == "POST" and headers.get(b"origin", b"").decode("latin-1") != domain.portal:
            body = pages.message_page("Request refused", "This form was not sent from the login portal's own page "
                                      "(cross-site request). Open the portal and try again.",
                                      status_id="cross-site").encode()
            await _plain(send, 403, body, b"text/html; charset=utf-8", extra)
            return
        scope.setdefault("state", {})["portal_domain"] = domain

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *((k, v) for k, v in extra if k not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _plain(send: Any, status: int, body: bytes, content_type: bytes,
                 extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(extra or _HEADERS)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def verifier_refused(request: Request, exc: Exception) -> Response:
    """A verifier error the routes did not expect (the user was deleted mid-login…): a page, never a 500."""
    assert isinstance(exc, VerifierError)
    body = pages.message_page("Something changed", f"{exc.message}. Open the portal and log in again.",
                              status_id="refused")
    return HTMLResponse(body, status_code=400)


def create_portal_app(ctx: PortalContext) -> Any:
    """The portal's FastAPI app, wrapped in its guard."""
    app = FastAPI(title="tracker2fa gate portal", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = ctx
    app.add_exception_handler(VerifierError, verifier_refused)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/shared", StaticFiles(directory=SHARED_STATIC_DIR), name="shared")  # verifier/web/: both front ends
    app.include_router(router)
    return PortalGuard(app, ctx.config)
