"""Web origins: parsing to the canonical ``scheme://host[:port]`` form and exact matching.

An entry bound to ``https://jira.example.com`` answers only that origin: same scheme, same host,
same port. No suffix or wildcard matching, ever.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .errors import InvalidOrigin

_DEFAULT_PORTS = {"https": 443, "http": 80}


def normalize_origin(value: str) -> str:
    """Return the canonical origin of ``value`` (an origin or a full URL).

    Lower-cases scheme and host, drops a default port, path, query and fragment, and IDNA-encodes
    the host. Raises :class:`InvalidOrigin` for anything that is not an http(s) origin.
    """
    if not isinstance(value, str) or not value or len(value) > 2048:
        raise InvalidOrigin(f"not an origin: {value!r}")
    if any(ord(c) < 0x21 for c in value):
        raise InvalidOrigin("an origin may not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise InvalidOrigin(f"not an origin: {value!r} ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidOrigin(f"only http and https origins are supported, not {scheme or 'none'!r}")
    if parts.username is not None or parts.password is not None:
        raise InvalidOrigin("an origin may not carry user information")
    host = parts.hostname
    if not host:
        raise InvalidOrigin(f"no host in {value!r}")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    except UnicodeError:
        raise InvalidOrigin(f"invalid host name in {value!r}") from None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def origin_matches(bound: str, requesting: str) -> bool:
    """True only when both are valid origins with the same scheme, host and port."""
    try:
        return normalize_origin(bound) == normalize_origin(requesting)
    except InvalidOrigin:
        return False
