"""Rate-limit rules: free failures, doubling back-off, cap, hard lockout at most at 100."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.core.ratelimit import HARD_LOCK_UNTIL, RateLimitRules, locked_until_after

NOW = 1_000.0


def test_the_first_failures_cost_nothing():
    rules = RateLimitRules()
    assert all(locked_until_after(n, NOW, rules) is None for n in range(1, rules.free_failures))


def test_back_off_starts_at_the_base_delay_and_doubles():
    rules = RateLimitRules(free_failures=5, base_delay=30, max_delay=3600)
    assert locked_until_after(5, NOW, rules) == NOW + 30
    assert locked_until_after(6, NOW, rules) == NOW + 60
    assert locked_until_after(7, NOW, rules) == NOW + 120


def test_back_off_is_capped():
    rules = RateLimitRules(free_failures=5, base_delay=30, max_delay=3600)
    assert locked_until_after(40, NOW, rules) == NOW + 3600


def test_the_hundredth_consecutive_failure_locks_until_reset():
    assert locked_until_after(100, NOW, RateLimitRules()) == HARD_LOCK_UNTIL


def test_more_than_100_allowed_failures_cannot_be_configured():
    with pytest.raises(ValueError):
        RateLimitRules(max_failures=101)


@given(count=st.integers(min_value=1, max_value=1000), free=st.integers(min_value=0, max_value=20))
def test_the_lock_never_shortens_as_failures_grow(count, free):
    rules = RateLimitRules(free_failures=free)
    first = locked_until_after(count, NOW, rules) or NOW
    second = locked_until_after(count + 1, NOW, rules) or NOW
    assert second >= first
