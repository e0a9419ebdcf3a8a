"""HTTP hardening shared by every mock page: security headers, the localhost rule, cookie settings."""

from __future__ import annotations

import ipaddress

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from . import pages

# script-src 'self' only: the pages carry no inline script, so an injected <script> cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "publickey-credentials-get=(self), publickey-credentials-create=(self), camera=()",
}


def host_is_ip(host_header: str) -> bool:
    """True when the Host header names an IP address (v4 or bracketed v6) rather than a name."""
    host = host_header.strip()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_port(host_header: str) -> int | None:
    """The port part of a Host header, if any."""
    tail = host_header.rsplit("]", 1)[-1] if host_header.startswith("[") else host_header
    if ":" in tail:
        try:
            return int(tail.rsplit(":", 1)[1])
        except ValueError:
            return None
    return None


def host_name(host_header: str) -> str:
    """The name part of a Host header, lower-cased, without the port."""
    host = host_header.strip().lower()
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class MockSecurityMiddleware(BaseHTTPMiddleware):
    """Adds the security headers; serves only ``allowed_hosts``; sends browsers that came by IP address to a
    page that says to use localhost.

    Any other name is refused with 400: a page on an attacker's domain that re-resolves to 127.0.0.1 (DNS
    rebinding) must not reach the login form. Paths under ``passthrough_prefixes`` (the JSON API) are
    served on IP hosts: API clients and load generators may well use 127.0.0.1, and they have no cookies or
    WebAuthn to lose.
    """

    def __init__(self, app, passthrough_prefixes: tuple[str, ...] = ("/api", "/static", "/healthz"),
                 allowed_hosts: tuple[str, ...] = ("localhost",)) -> None:
        super().__init__(app)
        self.passthrough = passthrough_prefixes
        self.allowed = frozenset(h.lower() for h in allowed_hosts)

    async def dispatch(self, request: Request, call_next) -> Response:
        host = request.headers.get("host", "")
        if host_is_ip(host):
            if request.url.path.startswith(self.passthrough):
                response = await call_next(request)
            else:
                port = host_port(host) or request.url.port
                response = HTMLResponse(pages.ip_page(port, request.url.path), status_code=421)
        elif host_name(host) not in self.allowed:
            response = PlainTextResponse("Invalid host header: open this tracker at http://localhost", 400)
        else:
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Cache-Control"] = "no-store"
        return response
