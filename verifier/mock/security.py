"""HTTP hardening shared by every mock page: security headers, the localhost rule, cookie settings."""

from __future__ import annotations

import ipaddress

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

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


class MockSecurityMiddleware(BaseHTTPMiddleware):
    """Adds the security headers; sends browsers that came by IP address to a page that says to use localhost.

    Paths under ``passthrough_prefixes`` (the JSON API) are served on any host: API clients and load
    generators may well use 127.0.0.1, and they have no cookies or WebAuthn to lose.
    """

    def __init__(self, app, passthrough_prefixes: tuple[str, ...] = ("/api", "/static", "/healthz")) -> None:
        super().__init__(app)
        self.passthrough = passthrough_prefixes

    async def dispatch(self, request: Request, call_next) -> Response:
        host = request.headers.get("host", "")
        if host_is_ip(host) and not request.url.path.startswith(self.passthrough):
            port = host_port(host) or request.url.port
            response: Response = HTMLResponse(pages.ip_page(port, request.url.path), status_code=421)
        else:
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.scheme == "https":
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Cache-Control"] = "no-store"
        return response
