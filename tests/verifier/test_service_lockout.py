"""The lockout policy (docs/verifier.md, "Rate limiting and lockout") through the Verifier and a real store.

Per user: a back-off that always lifts by itself, so knowing a username is no kill switch. Per address
(and per IPv6 /64): a hard lock at 100 consecutive failures, until an admin unlocks it. Replays do not
count against the user. Back-offs are audited as ``throttled``, hard locks as ``lockout``.
"""

from __future__ import annotations

from verifier.core import totp
from verifier.core.ratelimit import HARD_LOCK_UNTIL

from .conftest import enrol_totp

UA = "pytest"


def wrong_code(secret: bytes, now: float) -> str:
    """A well-formed code that no step near ``now`` produces."""
    near = {totp.totp(secret, now + d * 30) for d in range(-2, 3)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c not in near)


def wait_out(verifier, clock, result) -> None:
    """Let a back-off pass (a hard lock is left alone: waiting it out would mean waiting until 9999)."""
    if result.retry_after and result.retry_after <= 86400:
        clock.advance(result.retry_after + 1)


def test_a_users_back_off_stays_bounded_past_a_hundred_failures(verifier, clock):
    secret = enrol_totp(verifier, clock)
    rules = verifier.settings.rate_limit
    for i in range(130):  # one address per failure: only the user's own counter grows
        result = verifier.verify_totp("alice", wrong_code(secret, clock()), f"198.51.{i // 250}.{i % 250}", UA)
        assert result.reason == "invalid" and (result.retry_after or 0) <= rules.max_delay
        wait_out(verifier, clock, result)
    assert verifier.store.get_failures("user:alice")[0] == 130
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), "192.0.2.77", UA).ok


def test_a_user_past_a_hundred_failures_is_flagged_in_the_audit(verifier, clock):
    verifier.create_user("alice")
    for i in range(100):
        wait_out(verifier, clock, verifier.verify_totp("alice", "000000", f"198.51.100.{i}", UA))
    last = verifier.audit(event="throttled")[-1]
    assert last["username"] == "alice" and "100 consecutive failures" in last["detail"] and "attack" in last["detail"]


def test_an_address_is_hard_locked_at_a_hundred_failures_until_an_admin_unlocks_it(verifier, clock):
    secret = enrol_totp(verifier, clock)
    attacker = "203.0.113.66"
    for i in range(100):  # a different, unknown name each time: only the address counter reaches 100
        wait_out(verifier, clock, verifier.verify_totp(f"probe{i}", "000000", attacker, UA))
    clock.advance(7 * 86400)
    locked = verifier.verify_totp("alice", totp.totp(secret, clock()), attacker, UA)
    assert locked.reason == "locked" and locked.retry_after == HARD_LOCK_UNTIL - clock()
    [event] = verifier.audit(event="lockout")
    assert event["ip"] == attacker and event["detail"].startswith(f"ip:{attacker} locked until an admin")
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), "192.0.2.8", UA).ok  # the user is not


def test_an_admin_unlock_lifts_an_addresses_hard_lock(verifier, clock):
    secret = enrol_totp(verifier, clock)
    attacker = "203.0.113.67"
    for i in range(100):
        wait_out(verifier, clock, verifier.verify_totp(f"probe{i}", "000000", attacker, UA))
    verifier.unlock("alice", ip=attacker, actor="pytest")
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), attacker, UA).ok


def test_an_ipv6_64_is_hard_locked_as_a_whole_and_unlocked_as_a_whole(verifier, clock):
    secret = enrol_totp(verifier, clock)
    for i in range(100):  # a fresh address of the /64 for every failure
        wait_out(verifier, clock, verifier.verify_totp(f"probe{i}", "000000", f"2001:db8:7:7::{i + 1:x}", UA))
    fresh = "2001:db8:7:7:dead:beef:0:1"
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), fresh, UA).reason == "locked"
    [event] = verifier.audit(event="lockout")
    assert event["detail"].startswith("net:2001:db8:7:7::/64 locked until an admin")
    verifier.unlock("alice", ip=fresh, actor="pytest")
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), fresh, UA).ok


def test_a_replayed_code_does_not_count_against_the_user(verifier, clock):
    secret = enrol_totp(verifier, clock)
    code = totp.totp(secret, clock())
    assert verifier.verify_totp("alice", code, "192.0.2.1", UA).ok
    rules = verifier.settings.rate_limit
    replies = [verifier.verify_totp("alice", code, f"203.0.113.{i}", UA).reason
               for i in range(rules.free_failures + 2)]
    assert replies == ["replay"] * (rules.free_failures + 2)
    assert verifier.store.get_failures("user:alice") == (0, None)
    clock.advance(30)
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), "192.0.2.1", UA).ok


def test_replays_still_count_against_the_address(verifier, clock):
    secret = enrol_totp(verifier, clock)
    code = totp.totp(secret, clock())
    assert verifier.verify_totp("alice", code, "192.0.2.1", UA).ok
    verifier.verify_totp("alice", code, "203.0.113.9", UA)
    assert verifier.store.get_failures("ip:203.0.113.9")[0] == 1


def test_a_respelled_ipv6_address_meets_its_own_back_off(verifier, clock):
    ip_rules = verifier.settings.ip_rate_limit
    for i in range(ip_rules.free_failures):  # unknown names: each user counter stays at one
        verifier.verify_totp(f"probe{i}", "000000", "2001:db8:9::1", UA)
    for spelling in ("2001:DB8:9::1", "2001:db8:9:0::1", "2001:db8:9::1%eth0"):
        assert verifier.verify_totp("someone", "000000", spelling, UA).reason == "locked"


def test_an_ipv4_address_meets_its_back_off_in_ipv4_mapped_form(verifier, clock):
    for i in range(verifier.settings.ip_rate_limit.free_failures):
        verifier.verify_totp(f"probe{i}", "000000", "198.51.100.99", UA)
    assert verifier.verify_totp("someone", "000000", "::ffff:198.51.100.99", UA).reason == "locked"
    assert verifier.verify_totp("someone", "000000", "198.51.100.98", UA).reason == "invalid"
