"""Who may ask for what: the browser's origin rules for WebAuthn rpIds and U2F appIds.

- The origin must be https, or http on localhost / *.localhost (developers), never opaque, never an IP.
- rpId: python-fido2's ``verify_rp_id`` (Public Suffix List): the origin's host or a registrable suffix.
- appId (U2F and WebAuthn's ``appid`` extension): https (or the localhost exception), and on the same
  site as the origin: equal registrable domains. Facet lists are never fetched (no network).
"""

from __future__ import annotations

import functools
import ipaddress
from urllib.parse import urlsplit

from native_host.errors import InvalidOrigin
from native_host.origins import Origin, normalize_origin

from ..errors import FidoBadRequest, OriginRefused


def _is_local(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def checked_origin(origin: object) -> str:
    """The canonical origin if it may use security keys at all; :class:`OriginRefused` otherwise.

    The host hands in the :class:`Origin` it parsed already (its serialized form is canonical: it is not
    parsed again); tests and the benches may give a string."""
    if isinstance(origin, Origin):
        if origin.opaque:
            raise OriginRefused("an opaque origin (sandboxed frame or data: URL) cannot use security keys")
        return _usable_origin(origin.serialized)
    if not isinstance(origin, str) or origin == "null":
        raise OriginRefused("an opaque origin (sandboxed frame or data: URL) cannot use security keys")
    return _checked_origin(origin)


@functools.lru_cache(maxsize=256)  # a pure function of the string, asked at every request (refusals not cached)
def _checked_origin(origin: str) -> str:
    try:
        canonical = normalize_origin(origin)
    except InvalidOrigin as exc:
        raise OriginRefused(f"not a web origin: {exc}") from None
    return _usable_origin(canonical)


def _usable_origin(canonical: str) -> str:
    """``canonical`` (a normalised origin) if it may use security keys: https or localhost, not an IP."""
    scheme, host = canonical.split("://", 1)
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if _is_ip(host):
        raise OriginRefused(f"{canonical}: security keys need a domain name, not an IP address")
    if scheme != "https" and not _is_local(host):
        raise OriginRefused(f"{canonical}: security keys need https (http only on localhost)")
    return canonical


def host_of(origin: str) -> str:
    host = urlsplit(origin).hostname
    if not host:
        raise OriginRefused(f"no host in {origin!r}")
    return host


def check_rp_id(rp_id: object, origin: str) -> str:
    """The rpId if ``origin`` may use it (python-fido2's PSL check); :class:`OriginRefused` otherwise."""
    from fido2.rpid import verify_rp_id

    if not isinstance(rp_id, str) or not rp_id:
        raise FidoBadRequest("rpId must be a non-empty string")
    if not verify_rp_id(rp_id, origin):
        raise OriginRefused(f"rpId {rp_id!r} is not {origin}'s own domain or a registrable suffix of it")
    return rp_id


def registrable_domain(host: str) -> str:
    """The site of ``host``: its shortest suffix that is not a public suffix (eTLD+1), by the PSL."""
    from fido2.rpid import verify_rp_id

    if _is_local(host):
        return "localhost"
    labels = host.split(".")
    for i in range(len(labels) - 1, -1, -1):
        candidate = ".".join(labels[i:])
        if verify_rp_id(candidate, f"https://{host}"):  # accepted only when not a public suffix
            return candidate
    return host


def check_app_id(app_id: object, origin: str) -> str:
    """The appId to use: the origin itself when absent; else https and the same site as the origin."""
    if app_id in (None, ""):
        return origin
    if not isinstance(app_id, str) or len(app_id) > 2048:
        raise FidoBadRequest("appId must be a URL string")
    parts = urlsplit(app_id)
    host = (parts.hostname or "").lower()
    if not host:
        raise OriginRefused(f"appId {app_id!r} has no host")
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_local(host)):
        raise OriginRefused(f"appId {app_id!r} must be https (a facet list is never fetched)")
    if registrable_domain(host) != registrable_domain(host_of(origin)):
        raise OriginRefused(f"appId {app_id!r} is not on the same site as {origin}")
    return app_id


def top_origin_of(top_origin: object, origin: str) -> str | None:
    """The top-level page's origin when ``origin`` asks from a frame of another origin, else None.

    It goes into clientDataJSON as ``topOrigin`` with ``crossOrigin: true`` (WebAuthn Level 3), as browsers
    do, so that a relying party sees that it was framed. It is the browser's word (the tab's URL), never the
    page's; an origin that cannot be parsed is a bad request."""
    if top_origin is None:
        return None
    if not isinstance(top_origin, str):
        raise FidoBadRequest("topOrigin must be the top-level page's origin (a string)")
    if top_origin == "null":
        return "null"
    try:
        canonical = normalize_origin(top_origin)
    except InvalidOrigin as exc:
        raise FidoBadRequest(f"topOrigin is not an origin: {exc}") from None
    return None if canonical == origin else canonical
