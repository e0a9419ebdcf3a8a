"""Security headers, a request-size cap, non-finite JSON numbers, errors, and bearer-token checks for the API."""

from __future__ import annotations

import hmac
import json
import logging
import traceback

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import Unauthorized

log = logging.getLogger("tracker2fa.verifier")
# Where the token is, without naming any path of the server to a client that has not proven anything.
SERVICE_TOKEN_NEEDED = ("a valid service bearer token is needed (Authorization: Bearer TOKEN): on SQLite the server "
                        "keeps it in the file <database>.service-token beside its database (its start-up line names "
                        "it), else it is the $TRACKER2FA_SERVICE_TOKEN or --service-token-stdin it was started with")
TOO_LARGE = b'{"error":{"code":"too_large","message":"request body too large"}}'
INTERNAL_ERROR = b'{"error":{"code":"internal_error","message":"internal error; the server log says where"}}'
NON_FINITE = json.dumps({"detail": [{"type": "json_invalid", "loc": ["body"], "input": None,
                                     "msg": "JSON numbers must be finite: NaN and Infinity are not JSON"}]}).encode()

SECURITY_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"content-security-policy": b"default-src 'none'; frame-ancestors 'none'",
    b"cache-control": b"no-store",
    b"cross-origin-opener-policy": b"same-origin",
    b"cross-origin-resource-policy": b"same-origin",
    b"permissions-policy": b"interest-cohort=()",
}


class SecurityMiddleware:
    """The outermost layer: security headers on every HTTP reply, errors included.

    Refuses bodies over ``max_body`` bytes (413) and JSON with NaN/Infinity (422: Python's parser takes
    them, JSON does not, and an error echoing them could not be serialised). An unexpected exception
    becomes a JSON 500 and one log line naming the place, never a traceback (which may quote data).
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._reply(send, 413, TOO_LARGE)
            return
        https = scope.get("scheme") == "https"
        # Read the whole (small) body first so that an oversized chunked body is a clean 413 too.
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_body:
                await self._reply(send, 413, TOO_LARGE)
                return
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        if has_non_finite_number(raw):
            await self._reply(send, 422, NON_FINITE)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                extra = list(SECURITY_HEADERS.items())
                if https:
                    extra.append((b"strict-transport-security", b"max-age=63072000"))
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *((k, v) for k, v in extra if k not in present)]
            await send(message)

        body = {"type": "http.request", "body": raw, "more_body": False}
        try:
            await self.app(scope, _replay([body], receive), send_with_headers)
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            log.error("internal error %s at %s:%s answering %s %s", type(exc).__name__, where.filename,
                      where.lineno, scope.get("method"), scope.get("path"))
            if not started:
                await self._reply(send, 500, INTERNAL_ERROR)

    @staticmethod
    async def _reply(send: Send, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   *SECURITY_HEADERS.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def has_non_finite_number(raw: bytes) -> bool:
    """True when ``raw`` is JSON that Python reads only thanks to its NaN/Infinity extension.

    The byte search keeps the common case to one scan; only a body naming them is parsed twice.
    """
    if b"NaN" not in raw and b"Infinity" not in raw:
        return False
    found = False

    def note(_constant: str) -> float:
        nonlocal found
        found = True
        return 0.0

    try:
        json.loads(raw, parse_constant=note)
    except (ValueError, RecursionError):
        return False  # not JSON at all: the route's own validation says so
    return found


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A ``receive`` that yields ``messages`` first, then defers to ``then`` (e.g. for disconnects)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def token_ok(presented: str | None, expected: str | None) -> bool:
    """Constant-time token check; no configured token means nobody gets in."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


async def require_admin(request: Request) -> str:
    """FastAPI dependency: the admin bearer token; returns the actor name for the audit log."""
    settings = request.app.state.api_settings
    if not settings.admin_token:
        raise Unauthorized("the admin API is disabled: start the verifier with an admin token")
    if not token_ok(bearer(request.headers.get("authorization")), settings.admin_token):
        raise Unauthorized("a valid admin bearer token is needed (Authorization: Bearer TOKEN), the one the server "
                           "was started with ($TRACKER2FA_ADMIN_TOKEN or --admin-token-stdin)")
    return "admin-api"


async def require_service(request: Request) -> None:
    """FastAPI dependency for tracker-facing endpoints: the service token (no token configured: closed)."""
    settings = request.app.state.api_settings
    if not settings.service_token:
        raise Unauthorized("the tracker API is disabled: start the verifier with a service token")
    if not token_ok(bearer(request.headers.get("authorization")), settings.service_token):
        raise Unauthorized(SERVICE_TOKEN_NEEDED)
