"""One visit of a portal page: which domain's portal it is, the client, its live session, and the answers.

Routes declare ``visit: VisitDep`` and get a :class:`Visit` whose domain is known (the ``Host`` header is
one of the configured portals; the middleware refused any other), whose client address is read through
the trusted proxies, and whose session (if any) is alive and of this domain. Every answer goes through
:meth:`Visit.finish`, which adds the ``Set-Cookie`` headers the visit produced (rotation at each factor).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ...core import sessions as session_rules
from ...core.sessions import Level
from ...service import Verifier
from ...store.sessions import SessionRow
from ..addresses import parse_address
from ..config import DomainConfig, GateConfig
from ..cookies import clear_cookie, cookie_values, device_cookie, secure_for, session_cookie
from ..directory import Identity, LdapDirectory, LocalDirectory
from ..rules import Policy, Subject
from ..rules import Request as RuleRequest
from ..urls import safe_redirect, target_url


@dataclass
class PortalContext:
    """What every portal request shares: the configuration, a verifier per domain, the first factor."""

    config: GateConfig
    verifiers: dict[str, Verifier]  # by cookie domain: each has its WebAuthn relying party
    directory: LocalDirectory | LdapDirectory


class Refused(Exception):
    """A check turned the visit away; ``response`` is the answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@dataclass
class Visit:
    """One portal request."""

    request: Request
    ctx: PortalContext
    domain: DomainConfig
    ip: str
    token: str | None = None
    row: SessionRow | None = None
    cookies: list[str] = field(default_factory=list)

    @property
    def verifier(self) -> Verifier:
        return self.ctx.verifiers[self.domain.domain]

    @property
    def config(self) -> GateConfig:
        return self.ctx.config

    @property
    def user_agent(self) -> str:
        return self.request.headers.get("user-agent", "")[:512]

    @property
    def username(self) -> str:
        return self.row.username if self.row else ""

    @property
    def level(self) -> int:
        return self.row.level if self.row else 0

    # ---- where to go back to ----------------------------------------------------------------------
    def checked_rd(self, raw: str | None) -> str | None:
        """``raw`` when it is a safe way back into this portal's domain, else None. A host under a longer
        configured domain (``sub.example.com`` inside ``example.com``) belongs to that domain's portal."""
        url = safe_redirect(raw, (self.domain.domain,)) if raw else None
        if url is None or self.config.domain_of(target_url(url).host) is not self.domain:
            return None
        return url

    def needed_policy(self, rd: str | None, username: str, groups: tuple[str, ...]) -> Policy:
        """What the page at ``rd`` asks of this user (no ``rd``: a full login, both factors)."""
        if not rd:
            return Policy.TWO_FACTOR
        target = target_url(rd)
        client = parse_address(self.ip)
        policy, _rule = self.config.access.required(Subject(username, frozenset(groups)),
                                                    RuleRequest(target.host, target.resource, "GET", client))
        return policy

    # ---- sessions ----------------------------------------------------------------------------------
    def start_session(self, identity: Identity, level: Level, method: str) -> None:
        """A new session for ``identity`` (any session this browser had here ends first)."""
        self.end_session()
        sessions = self.verifier.sessions
        token = sessions.start(identity.username, self.domain.domain, level, method, self.config.timeouts,
                               ip=self.ip, user_agent=self.user_agent, display_name=identity.display_name,
                               email=identity.email)
        self.token, self.row = token, sessions.lookup(token)
        self._set_session_cookie(token)

    def upgrade(self, method: str) -> bool:
        """Both factors done: the session moves to level 2 under a new token. False when it was revoked or
        upgraded by a concurrent request meanwhile."""
        if not self.token or not self.row:
            return False
        token = self.verifier.sessions.upgrade(self.token, self.row, Level.TWO_FACTORS, method, self.config.timeouts,
                                               ip=self.ip, user_agent=self.user_agent)
        if token is None:
            return False
        self.token, self.row = token, self.verifier.sessions.lookup(token)
        self._set_session_cookie(token)
        return True

    def end_session(self) -> None:
        if self.token:
            self.verifier.sessions.end(self.token, ip=self.ip, user_agent=self.user_agent)
            self.cookies.append(clear_cookie(self.config.cookie_name, self.domain.domain))
        self.token, self.row = None, None

    def _set_session_cookie(self, token: str) -> None:
        remaining = self.row.created + self.config.timeouts.absolute - self.verifier.clock() if self.row else 0
        self.cookies.append(session_cookie(self.config.cookie_name, token, self.domain.domain, int(remaining)))

    # ---- remembered devices ------------------------------------------------------------------------
    def device_token(self) -> str | None:
        values = cookie_values(self.request.headers.get("cookie"), self.config.device_cookie_name)
        return values[0] if values and len(values[0]) <= 200 else None

    def set_device_cookie(self, token: str) -> None:
        days = self.verifier.get_policy().remember_days
        self.cookies.append(device_cookie(self.config.device_cookie_name, token, days * 86400,
                                          secure_for(self.domain.domain)))

    # ---- answers -----------------------------------------------------------------------------------
    def finish(self, response: Response) -> Response:
        for value in self.cookies:
            response.headers.append("set-cookie", value)
        return response

    def html(self, body: str, status: int = 200) -> Response:
        return self.finish(HTMLResponse(body, status_code=status))

    def redirect(self, url: str) -> Response:
        return self.finish(RedirectResponse(url, status_code=303))

    def json(self, payload: dict[str, Any], status: int = 200) -> Response:
        return self.finish(JSONResponse(payload, status))


def portal_context(request: Request) -> PortalContext:
    return request.app.state.portal


def find_session(visit: Visit) -> None:
    """Attach the first cookie value that is a live session of this domain (another domain's is not)."""
    sessions = visit.verifier.sessions
    now = visit.verifier.clock()
    for token in cookie_values(visit.request.headers.get("cookie"), visit.config.cookie_name):
        row = sessions.lookup(token)
        if row and row.domain == visit.domain.domain and \
                session_rules.is_alive(row.created, row.last_seen, now, visit.config.timeouts):
            sessions.touch(token, row, visit.config.timeouts)
            visit.token, visit.row = token, row
            return


def current_visit(request: Request) -> Visit:
    """The visit of ``request`` (sync: the session read runs on a worker thread with the route)."""
    ctx = portal_context(request)
    domain = request.state.portal_domain
    peer = request.client.host if request.client else None
    client = ctx.config.trusted.client(peer, request.headers.get("x-forwarded-for"))
    visit = Visit(request, ctx, domain, str(client) if client else "0.0.0.0")
    find_session(visit)
    return visit


VisitDep = Annotated[Visit, Depends(current_visit)]
