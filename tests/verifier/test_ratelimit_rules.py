"""Rate-limit rules: free failures, doubling back-off, cap, hard lockout at most at 100; counter keys."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.core.ratelimit import (
    HARD_LOCK_UNTIL,
    UNPARSABLE_ADDRESS_KEY,
    RateLimitRules,
    address_keys,
    client_address,
    ip_key,
    lock_end,
    locked_until_after,
    locks_after_failures,
)

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


def test_the_hundredth_consecutive_failure_locks_an_address_until_reset():
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


def test_a_users_back_off_never_becomes_a_hard_lock():
    rules = RateLimitRules()
    for count in (rules.max_failures, rules.max_failures + 1, 10_000):
        assert locked_until_after(count, NOW, rules, hard_lock=False) == NOW + rules.max_delay


@given(count=st.integers(min_value=0, max_value=10_000))
def test_a_users_lock_always_lifts_within_the_longest_back_off(count):
    rules = RateLimitRules()
    until = locked_until_after(count, NOW, rules, hard_lock=False)
    assert until is None or NOW < until <= NOW + rules.max_delay


# ---- counter keys from addresses ----------------------------------------------------------------------------

def test_respellings_of_one_ipv6_address_share_one_counter():
    spellings = ["2001:db8::1", "2001:DB8::1", "2001:db8:0::1", "2001:0db8:0000:0000:0000:0000:0000:0001",
                 "2001:db8::1%x", "2001:db8::1%eth0"]
    assert {address_keys(s) for s in spellings} == {("ip:2001:db8::1", "net:2001:db8::/64")}


def test_an_ipv4_mapped_ipv6_address_is_its_ipv4_address():
    assert address_keys("::ffff:192.0.2.1") == address_keys("192.0.2.1") == ("ip:192.0.2.1",)
    assert address_keys("::FFFF:c000:0201") == ("ip:192.0.2.1",)


def test_ipv6_addresses_in_one_64_share_the_network_counter_only():
    a, b = address_keys("2001:db8:1:2::1"), address_keys("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert a[0] != b[0] and a[1] == b[1] == "net:2001:db8:1:2::/64"
    assert address_keys("2001:db8:1:3::1")[1] != a[1]


def test_an_unparsable_address_gets_the_one_shared_counter():
    assert address_keys("not-an-ip") == address_keys("1.2.3.4%zone") == address_keys("") == (UNPARSABLE_ADDRESS_KEY,)


ipv4s = st.ip_addresses(v=4)
ipv6s = st.ip_addresses(v=6)


def _respell_ipv6(address: ipaddress.IPv6Address, upper: bool, zone: str, exploded: bool) -> str:
    text = address.exploded if exploded else address.compressed
    return (text.upper() if upper else text) + (f"%{zone}" if zone else "")


@given(address=ipv6s, upper=st.booleans(), exploded=st.booleans(),
       zone=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", max_size=8))
def test_any_spelling_of_an_ipv6_address_maps_to_its_canonical_keys(address, upper, exploded, zone):
    keys = address_keys(_respell_ipv6(address, upper, zone, exploded))
    if address.ipv4_mapped is not None:
        assert keys == (f"ip:{address.ipv4_mapped}",)
    else:
        network = ipaddress.IPv6Network((address, 64), strict=False)
        assert keys == (f"ip:{address.compressed}", f"net:{network}")


@given(address=ipv4s)
def test_an_ipv4_address_and_its_mapped_form_share_one_key(address):
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    assert address_keys(str(address)) == address_keys(str(mapped)) == address_keys(mapped.exploded.upper()) == \
        (f"ip:{address}",)


@given(text=st.text(max_size=60))
def test_any_text_gets_well_formed_keys(text):
    keys = address_keys(text)
    assert 1 <= len(keys) <= 2 and keys[0].startswith("ip:")
    if keys[0] != UNPARSABLE_ADDRESS_KEY:
        assert client_address(text) is not None and ip_key(text) == keys[0]


def test_a_lock_holds_before_its_end():
    assert lock_end([NOW + 30], NOW) == NOW + 30


def test_a_lock_is_lifted_at_its_end():
    assert lock_end([NOW], NOW) is None


def test_the_latest_of_several_counters_locks_wins():
    assert lock_end([NOW + 30, None, NOW + 600, NOW - 5], NOW) == NOW + 600


def test_no_counter_locked_is_no_lock():
    assert lock_end([], NOW) is None and lock_end([None, None], NOW) is None


@given(locks=st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=HARD_LOCK_UNTIL))),
       now=st.floats(min_value=0, max_value=HARD_LOCK_UNTIL))
def test_lock_end_is_a_given_lock_still_ahead_or_none(locks, now):
    end = lock_end(locks, now)
    ahead = [lock for lock in locks if lock is not None and lock > now]
    assert end == (max(ahead) if ahead else None)


def test_a_user_counter_backs_off_but_never_hard_locks():
    rules = RateLimitRules()
    locks = locks_after_failures({"user:alice": 100}, NOW, "user:alice", rules, rules)
    assert locks == {"user:alice": NOW + rules.max_delay}


def test_an_address_counter_hard_locks_at_its_max_failures():
    user_rules, address_rules = RateLimitRules(), RateLimitRules(free_failures=20, max_failures=50)
    locks = locks_after_failures({"user:alice": 3, "ip:192.0.2.1": 50}, NOW, "user:alice", user_rules,
                                 address_rules)
    assert locks == {"ip:192.0.2.1": HARD_LOCK_UNTIL}


def test_each_counter_backs_off_under_its_own_rules():
    user_rules, address_rules = RateLimitRules(free_failures=5), RateLimitRules(free_failures=20)
    locks = locks_after_failures({"user:alice": 5, "ip:192.0.2.1": 5}, NOW, "user:alice", user_rules,
                                 address_rules)
    assert locks == {"user:alice": NOW + user_rules.base_delay}


@given(st.one_of(st.text(max_size=80), st.none(), st.integers(), st.lists(st.integers(), max_size=2)))
def test_address_keys_are_the_same_whether_or_not_they_were_cached(ip) -> None:
    from verifier.core.ratelimit import _address_keys

    assert address_keys(ip) == _address_keys(ip) == address_keys(ip)  # twice: the second from the cache
