"""Who is asking, without I/O: the client's address behind trusted proxies.

The gate believes forwarding headers (``X-Forwarded-For`` here, the original URL in :mod:`.authz`) only
from the proxies named in ``server.trusted_proxies``. From anyone else the peer address is the client, and
a forward-auth request is refused outright: anybody who can reach the gate's port could otherwise claim
any URL and any address.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 32


@functools.lru_cache(maxsize=4096)  # peers and clients repeat (keep-alive connections, offices behind NAT)
def parse_address(text: str) -> IPAddress | None:
    """An address from text (zone ids dropped; an IPv4-mapped IPv6 address as its IPv4), or None."""
    try:
        address = ipaddress.ip_address(text.strip().partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """The networks whose forwarding headers are believed."""

    def __init__(self, networks: Iterable[IPNetwork]) -> None:
        self.networks = tuple(networks)
        self._trusts = functools.lru_cache(maxsize=1024)(self._lookup)
        # Peers and forwarded-for values repeat (keep-alive connections from the proxy, returning clients).
        self.client = functools.lru_cache(maxsize=4096)(self._client)  # type: ignore[method-assign]
        self.trusts_peer = functools.lru_cache(maxsize=1024)(self._trusts_peer)

    def _lookup(self, address: IPAddress) -> bool:
        return any(address in net for net in self.networks if net.version == address.version)

    def trusts(self, address: IPAddress | None) -> bool:
        """True when ``address`` is one of the trusted proxies."""
        return address is not None and self._trusts(address)

    def _trusts_peer(self, peer: str | None) -> bool:
        """True when the connection's peer address (text) is a trusted proxy."""
        return self.trusts(parse_address(peer) if peer else None)

    def client(self, peer: str | None, forwarded_for: str | None) -> IPAddress | None:
        """Replaced per instance by a cached :meth:`_client`."""
        return self._client(peer, forwarded_for)

    def _client(self, peer: str | None, forwarded_for: str | None) -> IPAddress | None:
        """The client's address: the peer's, unless the peer is trusted and says whom it forwards for.

        ``X-Forwarded-For`` is read from the right, skipping trusted hops; the first untrusted address is
        the client. An entry that is not an address ends the walk at the hop that reported it.
        """
        address = parse_address(peer) if peer else None
        if not self.trusts(address) or not forwarded_for:
            return address
        for entry in reversed(forwarded_for.split(",")[-MAX_HOPS:]):
            hop = parse_address(entry)
            if hop is None:
                return address
            address = hop
            if not self.trusts(hop):
                return hop
        return address
