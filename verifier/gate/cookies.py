"""The gate's cookies, without I/O: reading them from a ``Cookie`` header, writing ``Set-Cookie``.

The session cookie is scoped to the configured parent domain (every host under it shares one login),
``HttpOnly`` (no page script reads it), ``SameSite=Lax`` (not sent on cross-site subrequests or POSTs) and
``Secure`` except on localhost names (browsers do not keep Secure cookies from plain http there). Its
``Max-Age`` is the absolute lifetime; the server ends it sooner when idle. For the domain ``localhost``
itself no ``Domain`` attribute is written: browsers refuse ``Domain=localhost``, and a host-only cookie of
localhost reaches every port of it anyway.
"""

from __future__ import annotations

import re

from .urls import is_local_name

COOKIE_NAME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")  # an RFC 6265 token
MAX_VALUES = 4  # a name sent more often than this is a stuffed header: its extra values are not read


def cookie_values(header: str | None, name: str) -> list[str]:
    """Every value sent for cookie ``name`` (browsers send one per matching domain and path), in order."""
    if not header or name not in header:
        return []
    found = []
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            found.append(value.strip().strip('"'))
            if len(found) == MAX_VALUES:
                break
    return found


def _attributes(domain: str, secure: bool) -> str:
    scope = "" if domain == "localhost" else f"; Domain={domain}"
    return f"{scope}; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")


def secure_for(domain: str) -> bool:
    """Cookies of ``domain`` are Secure unless it is a localhost name (plain http there, for developers)."""
    return not is_local_name(domain)


def session_cookie(name: str, token: str, domain: str, max_age: int) -> str:
    """The ``Set-Cookie`` value for a session token of ``domain``."""
    return f"{name}={token}; Max-Age={max(0, int(max_age))}{_attributes(domain, secure_for(domain))}"


def clear_cookie(name: str, domain: str) -> str:
    """The ``Set-Cookie`` value that makes the browser forget the cookie (same scope as it was set with)."""
    return f"{name}=; Max-Age=0{_attributes(domain, secure_for(domain))}"


def device_cookie(name: str, token: str, max_age: int, secure: bool) -> str:
    """A remembered-device cookie: host-only on the portal, where only the portal reads it."""
    return f"{name}={token}; Max-Age={max(0, int(max_age))}; Path=/; HttpOnly; SameSite=Lax" + \
        ("; Secure" if secure else "")
