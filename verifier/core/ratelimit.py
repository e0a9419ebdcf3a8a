"""Failure counting with back-off and lockout (RFC 4226 §7.3, NIST SP 800-63B §5.2.2), and the counter keys.

Counters: one per username (known or not, so that a lock never tells whether a user exists), one per client
address, and for IPv6 one per /64 (an attacker usually owns the whole /64, so counting per address alone
would give them 2**64 fresh counters). The first ``free_failures`` failures cost nothing; each further one
locks for ``base_delay * 2**k`` seconds, capped at ``max_delay``. A user's counter never locks for longer
than ``max_delay`` (a hard lock per user would let anyone who knows a username lock them out); an
address counter locks until an admin resets it at ``max_failures`` consecutive failures (never more than
100). Success clears the counters it was checked against. The policy is written up in docs/verifier.md.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

HARD_LOCK_UNTIL = 253402300799.0  # 9999-12-31: "until an admin resets it", still a plain float in JSON
MAX_ALLOWED_FAILURES = 100
IPV6_NETWORK_PREFIX = 64
UNPARSABLE_ADDRESS_KEY = "ip:unparsable"  # every unparsable address shares one counter: no fresh ones


@dataclass(frozen=True)
class RateLimitRules:
    """Back-off and lockout settings; the defaults are documented in docs/verifier.md.

    ``max_failures`` is the hard-lock threshold of counters that hard-lock (addresses and networks).
    """

    free_failures: int = 5
    base_delay: float = 30.0
    max_delay: float = 3600.0
    max_failures: int = MAX_ALLOWED_FAILURES

    def __post_init__(self) -> None:
        if not 1 <= self.max_failures <= MAX_ALLOWED_FAILURES:
            raise ValueError(f"max_failures must be between 1 and {MAX_ALLOWED_FAILURES}")
        if not 0 <= self.free_failures <= self.max_failures:
            raise ValueError("free_failures must be between 0 and max_failures")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("delays must satisfy 0 <= base_delay <= max_delay")


def locked_until_after(count: int, now: float, rules: RateLimitRules, *, hard_lock: bool = True) -> float | None:
    """When the ``count``-th consecutive failure at ``now`` lifts its lock; None means no lock.

    ``hard_lock=False`` (user counters): the lock stays a back-off of at most ``max_delay``, whatever the
    count; ``True`` (address counters): from ``max_failures`` on, locked until an admin resets it.
    """
    if hard_lock and count >= rules.max_failures:
        return HARD_LOCK_UNTIL
    if count < rules.free_failures or rules.base_delay == 0:
        return None
    exponent = min(count - rules.free_failures, 32)
    return now + min(rules.base_delay * 2**exponent, rules.max_delay)


def lock_end(locks: Iterable[float | None], now: float) -> float | None:
    """The lock window: the latest lock end among ``locks`` while it is still ahead of ``now``, else None.

    A lock holds while ``now`` is before its end; at the end itself the counter is free again.
    """
    end = max((lock for lock in locks if lock is not None), default=None)
    return end if end is not None and end > now else None


def locks_after_failures(counts: Mapping[str, int], now: float, user_counter: str, user_rules: RateLimitRules,
                         address_rules: RateLimitRules) -> dict[str, float]:
    """The lock end each counter earns with its new consecutive-failure count (counters earning none omitted).

    ``user_counter`` backs off under ``user_rules`` and never hard-locks; every other counter (an address,
    a network) follows ``address_rules`` and hard-locks at their ``max_failures``.
    """
    locks = {}
    for key, count in counts.items():
        is_user = key == user_counter
        until = locked_until_after(count, now, user_rules if is_user else address_rules, hard_lock=not is_user)
        if until is not None:
            locks[key] = until
    return locks


def user_key(username: str) -> str:
    """The counter key of a username (whether or not such a user exists)."""
    return f"user:{username}"


def client_address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a client IP string names, or None when it names none.

    Canonical whatever the spelling (case, zero runs, leading zeros of IPv6 groups); a zone id
    (``fe80::1%eth0``) is dropped, since it names an interface of the receiving host, not the peer; an
    IPv4-mapped IPv6 address (``::ffff:192.0.2.1``, what a dual-stack socket reports) is its IPv4 address.
    """
    if not isinstance(ip, str):
        return None
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        return ipaddress.IPv6Address(int(address))  # the integer carries no zone id
    return address


def address_keys(ip: str) -> tuple[str, ...]:
    """Every counter key a failure from ``ip`` counts against: the address, and for IPv6 its /64 too."""
    if isinstance(ip, str) and len(ip) <= MAX_CACHED_ADDRESS:
        return _address_keys_cached(ip)
    return _address_keys(ip)


def _address_keys(ip: str) -> tuple[str, ...]:
    address = client_address(ip)
    if address is None:
        return (UNPARSABLE_ADDRESS_KEY,)
    if isinstance(address, ipaddress.IPv4Address):
        return (f"ip:{address}",)
    network = ipaddress.IPv6Network((address, IPV6_NETWORK_PREFIX), strict=False)
    return (f"ip:{address}", f"net:{network}")


# Every request reads the counters of its address; parsing it is a tenth of a verification's own work.
# Addresses repeat (retries, whole offices behind one NAT), and the keys are a pure function of the text.
MAX_CACHED_ADDRESS = 64
_address_keys_cached = functools.lru_cache(maxsize=8192)(_address_keys)


def ip_key(ip: str) -> str:
    """The counter key of one client address (canonical; see :func:`client_address`)."""
    return address_keys(ip)[0]
