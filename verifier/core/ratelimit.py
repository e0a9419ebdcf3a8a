"""Failure counting with back-off and lockout (RFC 4226 §7.3, NIST SP 800-63B §5.2.2).

A counter per user and one per client IP. The first ``free_failures`` failures cost nothing; each further
one locks for ``base_delay * 2**k`` seconds, capped at ``max_delay``. At ``max_failures`` consecutive
failures (never more than 100) the counter locks until an admin resets the user. Success clears it.
"""

from __future__ import annotations

from dataclasses import dataclass

HARD_LOCK_UNTIL = 253402300799.0  # 9999-12-31: "until an admin resets it", still a plain float in JSON
MAX_ALLOWED_FAILURES = 100


@dataclass(frozen=True)
class RateLimitRules:
    """Back-off and lockout settings; the defaults are documented in docs/verifier.md."""

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


def locked_until_after(count: int, now: float, rules: RateLimitRules) -> float | None:
    """When the ``count``-th consecutive failure at ``now`` lifts its lock; None means no lock."""
    if count >= rules.max_failures:
        return HARD_LOCK_UNTIL
    if count < rules.free_failures or rules.base_delay == 0:
        return None
    exponent = min(count - rules.free_failures, 32)
    return now + min(rules.base_delay * 2**exponent, rules.max_delay)


def user_key(username: str) -> str:
    """The counter key of a user."""
    return f"user:{username}"


def ip_key(ip: str) -> str:
    """The counter key of a client IP."""
    return f"ip:{ip}"
