"""The forward-auth endpoints: the check the proxy makes before every request it passes on.

- ``/api/authz/auth-request`` for nginx ``auth_request``: the target in ``X-Original-URL`` (and
  ``X-Original-Method``); a login is a **401** with the portal in ``Location`` (nginx turns it into a
  redirect with ``error_page 401 =302 $gate_location``).
- ``/api/authz/forward-auth`` for Traefik ``forwardAuth`` and Caddy ``forward_auth``: the target in
  ``X-Forwarded-Proto``, ``-Host``, ``-Uri`` (and ``-Method``); a login is a **302** to the portal (303
  after a non-GET, 401 for scripts: ``X-Requested-With`` or an ``Accept`` without HTML), which these
  proxies hand to the browser as it is.

Both answer **200** with ``Remote-User``, ``Remote-Groups``, ``Remote-Name`` and ``Remote-Email`` for a
live session that meets the rule, **200** without them for ``bypass``, **403** for ``deny``, **400** for a
target that cannot be read. A request from an address outside ``server.trusted_proxies`` is refused
(**403**) whatever it carries: the headers that name the target are believed only from the proxy.

This is a plain ASGI callable, not a FastAPI route: it runs on every proxied request, so it parses only the
headers it needs and costs one indexed read of the session (inline on SQLite; one thread hop on
PostgreSQL). Nothing is cached between requests, so a revoked or logged-out session is refused at its
next request by every node.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from anyio import to_thread

from ..core import sessions as session_rules
from ..service.sessions import Sessions
from ..store.sessions import SessionRow
from .config import DomainConfig, GateConfig
from .cookies import cookie_values
from .rules import ANONYMOUS, Request, Subject, Verdict
from .urls import BadUrl, Target, forwarded_target, portal_url, target_url

log = logging.getLogger("tracker2fa.gate")

AUTH_REQUEST_PATH = "/api/authz/auth-request"
FORWARD_AUTH_PATH = "/api/authz/forward-auth"
AUTHZ_PATHS = frozenset({AUTH_REQUEST_PATH, FORWARD_AUTH_PATH})
WANTED = frozenset({b"x-original-url", b"x-original-method", b"x-forwarded-proto", b"x-forwarded-host",
                     b"x-forwarded-uri", b"x-forwarded-method", b"x-forwarded-for", b"cookie", b"accept",
                     b"x-requested-with"})
_BASE_HEADERS = [(b"cache-control", b"no-store"), (b"content-length", b"0")]
BASE_HEADERS = _BASE_HEADERS
# Sent empty on bypass: Caddy 2.6's copy_headers writes its placeholder text ("{http.reverse_proxy.header
# .Remote-User}") into a header the reply lacks; with an empty value it sets nothing (nginx removes it too).
_NO_IDENTITY = [(b"remote-user", b""), (b"remote-groups", b""), (b"remote-name", b""), (b"remote-email", b"")]
_REDIRECT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_MAX_LOGGED_PEERS = 100
Send = Callable[[dict[str, Any]], Awaitable[None]]


def header_value(text: str | None) -> bytes:
    """A value fit for a response header: control characters dropped, UTF-8 (as Authelia sends them)."""
    if not text:
        return b""
    if text.isascii() and text.isprintable():  # the common case, checked in C
        return text.encode("ascii")
    return "".join(c for c in text if c >= " " and c != "\x7f").encode("utf-8")


def identity_headers(row: SessionRow) -> list[tuple[bytes, bytes]]:
    """``Remote-User``, ``Remote-Groups`` (comma-separated; a group whose name has a comma is left out rather
    than split), ``Remote-Name`` and ``Remote-Email`` of a session."""
    return list(_identity(row.username, row.groups, row.display_name, row.email))


@functools.lru_cache(maxsize=4096)  # a user's identity is the same on every one of their requests
def _identity(username: str, groups_of: tuple[str, ...], display_name: str | None,
              email: str | None) -> tuple[tuple[bytes, bytes], ...]:
    row = SessionRow(username, "", 0, display_name, email, 0.0, 0.0, None, groups_of)
    groups = ",".join(sorted(g for g in row.groups if "," not in g))
    return ((b"remote-user", header_value(row.username)), (b"remote-groups", header_value(groups)),
            (b"remote-name", header_value(row.display_name or row.username)),
            (b"remote-email", header_value(row.email)))


Answer = tuple[int, list[tuple[bytes, bytes]]]  # status and the headers beyond the base ones


class Authz:
    """The forward-auth check: :meth:`check` decides (synchronously: it reads the database), and this object
    is also its ASGI edge on the portal's port (mounted by :func:`verifier.gate.app.create_gate_app`). The
    dedicated port's edge is :mod:`.authz_server`."""

    def __init__(self, config: GateConfig, sessions: Sessions, *, inline: bool) -> None:
        self.config = config
        self.sessions = sessions
        self.inline = inline  # SQLite answers in microseconds: no thread hop
        self._logged_peers: set[str] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        peer = scope["client"][0] if scope.get("client") else None
        headers: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in WANTED and name not in headers:
                headers[name] = value.decode("latin-1")
        args = (scope["path"], scope["method"], peer, headers)
        status, extra = self.check(*args) if self.inline else await to_thread.run_sync(self.check, *args)
        await send({"type": "http.response.start", "status": status,
                    "headers": [*_BASE_HEADERS, *extra] if extra else _BASE_HEADERS})
        await send({"type": "http.response.body", "body": b""})

    def check(self, path: str, request_method: str, peer: str | None, headers: dict[bytes, str]) -> Answer:
        """The answer to one forward-auth request: ``headers`` holds the :data:`WANTED` ones (lower-case
        names, latin-1 values). Blocking: on PostgreSQL, call it off the event loop."""
        proxies = self.config.trusted
        if not proxies.trusts_peer(peer):
            self._log_untrusted(peer)
            return 403, []
        nginx = path == AUTH_REQUEST_PATH
        try:
            if nginx:
                target = target_url(headers.get(b"x-original-url", ""))
                method = headers.get(b"x-original-method") or request_method
            else:
                target = forwarded_target(headers.get(b"x-forwarded-proto", ""),
                                          headers.get(b"x-forwarded-host", ""), headers.get(b"x-forwarded-uri", "/"))
                method = headers.get(b"x-forwarded-method") or request_method
        except BadUrl as exc:
            log.warning("forward-auth request with an unreadable target (%s) from %s", exc, peer)
            return 400, []
        method = method.strip().upper()[:20]
        client = proxies.client(peer, headers.get(b"x-forwarded-for"))
        domain = self.config.domain_of(target.host)
        tokens = cookie_values(headers.get(b"cookie"), self.config.cookie_name) if domain else []
        row = self.find_session(tokens, domain) if tokens and domain else None
        subject = Subject(row.username, frozenset(row.groups)) if row else ANONYMOUS
        request = Request(target.host, target.resource, method, client)
        verdict, _rule = self.config.access.verdict(subject, row.level if row else 0, request)
        if verdict is Verdict.ALLOW and row is not None:
            return 200, identity_headers(row)
        if verdict is Verdict.BYPASS:
            return 200, _NO_IDENTITY
        if verdict is Verdict.DENY or domain is None:
            return 403, []
        return self._login(nginx, domain, target, method, headers)

    def find_session(self, tokens: list[str], domain: DomainConfig) -> SessionRow | None:
        """The first cookie value that is a live session of ``domain`` (a cookie of another domain is not),
        touched when its activity record is stale."""
        now = self.sessions.clock()
        timeouts = self.config.timeouts
        for token in tokens:
            found = self.sessions.find(token)
            if found is None:
                continue
            digest, row = found
            if row.domain == domain.domain and session_rules.is_alive(row.created, row.last_seen, now, timeouts):
                self.sessions.touch_hash(digest, row, timeouts)
                return row
        return None

    @staticmethod
    def _login(nginx: bool, domain: DomainConfig, target: Target, method: str, headers: dict[bytes, str]) -> Answer:
        location = portal_url(domain.portal, "/", target.url).encode("ascii")
        script = headers.get(b"x-requested-with", "").lower() == "xmlhttprequest" or \
            "text/html" not in headers.get(b"accept", "text/html")
        # nginx makes the redirect itself (error_page); a script cannot follow one.
        redirect = 302 if method in _REDIRECT_METHODS else 303
        return (401 if nginx or script else redirect), [(b"location", location)]

    def _log_untrusted(self, peer: str | None) -> None:
        if peer not in self._logged_peers and len(self._logged_peers) < _MAX_LOGGED_PEERS:
            self._logged_peers.add(str(peer))
            log.warning("forward-auth request from %s refused: not in server.trusted_proxies (its forwarding "
                        "headers would name any URL and any client)", peer)
