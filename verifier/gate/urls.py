"""URLs at the gate, without I/O: the proxied request's target, the path the rules see, and the redirect
back after login (the ``rd`` the portal accepts).

Everything here is strict on purpose and written out rather than left to :mod:`urllib.parse`, which accepts
what browsers would read differently (``https://good.example\\@evil.example``, ``https:evil.example``,
tabs and newlines a browser drops). A URL is taken apart once, checked part by part, and written back from
the checked parts, so what is emitted is exactly what was checked.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

MAX_URL = 8192
MAX_REDIRECT = 4096
DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOSTNAME_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_URL_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)(.*)", re.DOTALL)
# A request line's path and query: visible ASCII (the proxy passes what the client sent).
_VISIBLE = re.compile(r"[\x21-\x7e]*")


class BadUrl(ValueError):
    """A URL the gate will not act on; the message says which part is wrong."""


@dataclass(frozen=True)
class Target:
    """The URL a proxied request asked for, as the rules see it."""

    scheme: str  # http or https
    host: str  # lower-case name, IPv4 address, or [IPv6]
    port: int | None  # None for the scheme's default
    path: str  # as the client sent it (percent-encoded), starting with /
    query: str | None  # as sent, without the ?; None when there was no ?

    @property
    def url(self) -> str:
        """The URL written back from its checked parts (what the portal's ``rd`` carries)."""
        port = f":{self.port}" if self.port is not None else ""
        query = f"?{self.query}" if self.query is not None else ""
        return f"{self.scheme}://{self.host}{port}{self.path}{query}"

    @functools.cached_property
    def resource(self) -> str:
        """What access rules' ``resources`` patterns match: the normalised path and the raw query."""
        query = f"?{self.query}" if self.query is not None else ""
        return normalise_path(self.path) + query


def parse_authority(authority: str) -> tuple[str, int | None]:
    """``host[:port]`` → (canonical host, port or None); raises BadUrl. No user info, no empty host."""
    if "@" in authority:
        raise BadUrl("user info (user@host) is not allowed")
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise BadUrl("unterminated IPv6 address")
        try:
            address = ipaddress.IPv6Address(authority[1:end])
        except ValueError:
            raise BadUrl("not an IPv6 address") from None
        host, rest = f"[{address.compressed}]", authority[end + 1:]
        if rest and not rest.startswith(":"):
            raise BadUrl("junk after the IPv6 address")
        port_text = rest[1:] if rest else None
    else:
        name, sep, port_text = authority.partition(":")
        port_text = port_text if sep else None
        host = name.lower()
        if not host or len(host) > 253 or HOSTNAME_RE.fullmatch(host) is None:
            raise BadUrl("the host must be a DNS name of letters, digits and hyphens (or an IP address)")
    if port_text is None:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or not 1 <= len(port_text) <= 5 or \
            not 1 <= int(port_text) <= 65535:
        raise BadUrl("the port must be a number from 1 to 65535")
    return host, int(port_text)


def _split_path(rest: str) -> tuple[str, str | None]:
    path, sep, query = rest.partition("?")
    return path or "/", query if sep else None


def _encode_high(text: str) -> str:
    """Percent-encode characters outside ASCII (as UTF-8), the way a browser sends them."""
    if text.isascii():
        return text
    return "".join(c if c.isascii() else quote(c, safe="") for c in text)


@functools.lru_cache(maxsize=4096)  # pages, their assets and their API calls repeat: parse each once
def target_url(raw: str) -> Target:
    """The target of ``X-Original-URL`` (an absolute http(s) URL); raises BadUrl."""
    if not raw or len(raw) > MAX_URL:
        raise BadUrl("missing or too long")
    match = _URL_RE.fullmatch(raw)
    if match is None:
        raise BadUrl("not an absolute URL")
    scheme, authority, rest = match.group(1).lower(), match.group(2), match.group(3)
    if rest and rest[0] not in "/?":
        raise BadUrl("the path must start with /")
    return forwarded_target(scheme, authority, rest or "/")


@functools.lru_cache(maxsize=4096)
def forwarded_target(proto: str, host: str, uri: str) -> Target:
    """The target of ``X-Forwarded-Proto``, ``-Host`` and ``-Uri``; raises BadUrl."""
    scheme = proto.strip().lower()
    if scheme not in DEFAULT_PORTS:
        raise BadUrl("the scheme must be http or https")
    name, port = parse_authority(host.strip())
    if port == DEFAULT_PORTS[scheme]:
        port = None
    uri = _encode_high(uri or "/")
    if len(uri) > MAX_URL or not uri.startswith("/") or _VISIBLE.fullmatch(uri) is None:
        raise BadUrl("the path must start with / and hold no spaces or control characters")
    path, query = _split_path(uri.partition("#")[0])
    return Target(scheme, name, port, path, query)


def normalise_path(path: str) -> str:
    """The path as servers resolve it, for access rules: backslashes as slashes, percent-escapes decoded,
    ``;parameters`` dropped from each segment (Tomcat does), ``.`` and ``..`` resolved, ``//`` collapsed.

    So ``/x/..;/admin``, ``/%61dmin``, ``/admin;jsessionid=1`` and ``//admin`` are all ``/admin`` to a rule,
    as they are to the tracker behind the proxy.
    """
    decoded = unquote(path.replace("\\", "/"), errors="replace").replace("\\", "/")
    out: list[str] = []
    for segment in decoded.split("/"):
        segment = segment.partition(";")[0]
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    trailing = decoded.endswith("/") or decoded.endswith("/.") or decoded.endswith("/..")
    return "/" + "/".join(out) + ("/" if out and trailing else "")


def is_local_name(host: str) -> bool:
    """``localhost`` and names under it (RFC 6761: always loopback), where plain http is allowed."""
    return host == "localhost" or host.endswith(".localhost")


def under_domain(host: str, domain: str) -> bool:
    """True when ``host`` is ``domain`` or a name under it (a label boundary: not ``evil-domain``)."""
    return host == domain or host.endswith("." + domain)


def safe_redirect(value: str, domains: tuple[str, ...]) -> str | None:
    """The URL to send a browser back to after login, or None when ``value`` could lead anywhere else.

    Accepted: an absolute ``https`` URL (``http`` only on localhost names) whose host is one of ``domains``
    or under one, with no user info, no backslash, nothing outside visible ASCII (percent-encoded Unicode is
    fine; raw Unicode, spaces, tabs and newlines are not), and a path that does not start with ``//``.
    Returned written back from its parts.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_REDIRECT:
        return None
    if _VISIBLE.fullmatch(value) is None or "\\" in value:
        return None
    match = _URL_RE.fullmatch(value)
    if match is None:
        return None
    scheme, authority, rest = match.group(1).lower(), match.group(2), match.group(3)
    if scheme not in DEFAULT_PORTS or "%" in authority:
        return None
    try:
        host, port = parse_authority(authority)
    except BadUrl:
        return None
    if host.startswith("[") or HOSTNAME_RE.fullmatch(host) is None:
        return None  # an IP address is under no domain
    if not any(under_domain(host, d) for d in domains):
        return None
    if scheme == "http" and not is_local_name(host):
        return None
    if rest and rest[0] not in "/?#":
        return None
    if rest.startswith("//"):
        return None
    port_text = f":{port}" if port is not None and port != DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host}{port_text}{rest or '/'}"


def portal_url(portal_origin: str, path: str = "/", rd: str | None = None) -> str:
    """A portal page's URL, carrying the way back in ``rd`` (percent-encoded whole)."""
    return f"{portal_origin}{path}" + (f"?rd={quote(rd, safe='')}" if rd else "")
