"""The gate's pure rules: access control, trusted proxies, cookies, session lifetimes, identity headers."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.core import sessions
from verifier.gate.addresses import TrustedProxies, parse_address
from verifier.gate.authz import identity_headers
from verifier.gate.cookies import clear_cookie, cookie_values, session_cookie
from verifier.gate.rules import ANONYMOUS, AccessControl, DomainPattern, Policy, Request, Rule, Subject, Verdict
from verifier.store.sessions import SessionRow

ALICE = Subject("alice", frozenset({"dev"}))


def rule(policy: str, *domains: str, **conditions) -> Rule:
    return Rule(Policy(policy), tuple(DomainPattern(d) for d in domains or ("app.example.com",)), **conditions)


def ask(acl: AccessControl, subject: Subject = ANONYMOUS, level: int = 0, *, host: str = "app.example.com",
        resource: str = "/", method: str = "GET", client: str | None = "203.0.113.7") -> Verdict:
    return acl.verdict(subject, level, Request(host, resource, method, parse_address(client) if client else None))[0]


def test_the_first_matching_rule_decides() -> None:
    acl = AccessControl((rule("bypass", resources=(re.compile("^/public/"),)), rule("deny")), Policy.TWO_FACTOR)
    assert ask(acl, resource="/public/x") is Verdict.BYPASS
    assert ask(acl, ALICE, 2, resource="/other") is Verdict.DENY


def test_no_matching_rule_means_the_default_policy() -> None:
    acl = AccessControl((rule("bypass", "other.example.com"),), Policy.DENY)
    assert ask(acl, ALICE, 2) is Verdict.DENY


@pytest.mark.parametrize(("policy", "level", "verdict"), [
    ("one_factor", 0, Verdict.LOGIN), ("one_factor", 1, Verdict.ALLOW), ("one_factor", 2, Verdict.ALLOW),
    ("two_factor", 1, Verdict.LOGIN), ("two_factor", 2, Verdict.ALLOW), ("deny", 2, Verdict.DENY),
    ("bypass", 0, Verdict.BYPASS),
])
def test_a_policy_against_the_sessions_level(policy: str, level: int, verdict: Verdict) -> None:
    subject = ALICE if level else ANONYMOUS
    assert ask(AccessControl((rule(policy),)), subject, level) is verdict


def test_a_subject_rule_sends_a_stranger_to_log_in_and_applies_to_members_only() -> None:
    acl = AccessControl((rule("two_factor", groups=frozenset({"admins"})), rule("deny")))
    assert ask(acl) is Verdict.LOGIN
    assert ask(acl, Subject("root", frozenset({"admins"})), 2) is Verdict.ALLOW
    assert ask(acl, ALICE, 2) is Verdict.DENY  # not a member: the next rule
    assert ask(AccessControl((rule("deny", users=frozenset({"bob"})),)), ANONYMOUS) is Verdict.LOGIN


def test_methods_networks_and_wildcard_domains_narrow_a_rule() -> None:
    acl = AccessControl((rule("bypass", "*.example.com", methods=frozenset({"GET"}),
                              networks=(ipaddress.ip_network("10.0.0.0/8"),)),), Policy.DENY)
    assert ask(acl, host="ci.example.com", client="10.1.2.3") is Verdict.BYPASS
    assert ask(acl, host="example.com", client="10.1.2.3") is Verdict.DENY  # *. is not the apex
    assert ask(acl, host="ci.example.com", client="10.1.2.3", method="POST") is Verdict.DENY
    assert ask(acl, host="ci.example.com", client="11.1.2.3") is Verdict.DENY
    assert ask(acl, host="ci.example.com", client=None) is Verdict.DENY
    assert ask(acl, host="ci.example.com.evil.example", client="10.1.2.3") is Verdict.DENY


def test_trusted_proxies_name_the_client_only_when_the_peer_is_one() -> None:
    proxies = TrustedProxies([ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8")])
    assert proxies.client("127.0.0.1", "203.0.113.9") == ipaddress.ip_address("203.0.113.9")
    assert proxies.client("198.51.100.4", "203.0.113.9") == ipaddress.ip_address("198.51.100.4")
    assert proxies.client("127.0.0.1", "203.0.113.9, 10.0.0.2") == ipaddress.ip_address("203.0.113.9")
    assert proxies.client("127.0.0.1", "1.2.3.4, 203.0.113.9") == ipaddress.ip_address("203.0.113.9")  # spoofed left
    assert proxies.client("127.0.0.1", "junk, 10.0.0.2") == ipaddress.ip_address("10.0.0.2")
    assert proxies.client("::ffff:127.0.0.1", "203.0.113.9") == ipaddress.ip_address("203.0.113.9")


@given(st.text(max_size=60), st.text(max_size=200))
def test_the_client_address_is_always_the_peer_or_an_address_from_the_header(peer: str, header: str) -> None:
    proxies = TrustedProxies([ipaddress.ip_network("127.0.0.0/8")])
    client = proxies.client(peer, header)
    assert client is None or client == parse_address(peer) or \
        any(client == parse_address(part) for part in header.split(","))


def test_cookie_values_reads_every_value_of_the_name_and_nothing_else() -> None:
    header = "a=1; tracker2fa_session=one; x_tracker2fa_session=no; tracker2fa_session=\"two\"; b"
    assert cookie_values(header, "tracker2fa_session") == ["one", "two"]
    assert cookie_values("tracker2fa_session=" + "; tracker2fa_session=x" * 50, "tracker2fa_session")[:1] == [""]
    assert len(cookie_values("; ".join(["n=v"] * 100), "n")) == 4


@given(st.text(max_size=300))
def test_cookie_parsing_never_crashes(header: str) -> None:
    assert isinstance(cookie_values(header, "tracker2fa_session"), list)


def test_the_session_cookie_has_the_domain_scope_and_flags() -> None:
    assert session_cookie("s", "TOKEN", "example.com", 3600) == \
        "s=TOKEN; Max-Age=3600; Domain=example.com; Path=/; HttpOnly; SameSite=Lax; Secure"
    assert session_cookie("s", "T", "one.localhost", 5).endswith("Domain=one.localhost; Path=/; HttpOnly; SameSite=Lax")
    assert "Domain" not in session_cookie("s", "T", "localhost", 5)  # browsers refuse Domain=localhost
    assert clear_cookie("s", "example.com").startswith("s=; Max-Age=0; Domain=example.com")


def test_a_session_lives_within_both_its_idle_and_absolute_lifetimes() -> None:
    t = sessions.Timeouts(idle=100, absolute=1000)
    assert sessions.is_alive(0, 950, 999, t)
    assert not sessions.is_alive(0, 999, 1000, t)  # absolute end, however busy
    assert not sessions.is_alive(0, 0, 100, t)  # idle end
    assert sessions.needs_touch(0, 10, t) and not sessions.needs_touch(0, 9, t)  # every idle/10 (at most 60 s)
    assert sessions.dead_after(0, 950, t) == 1000 and sessions.dead_after(0, 10, t) == 110
    with pytest.raises(ValueError):
        sessions.Timeouts(idle=10, absolute=5)


@given(st.text(max_size=60))
def test_only_a_token_shaped_value_is_ever_hashed(value: str) -> None:
    digest = sessions.token_hash(value)
    assert (digest is not None) == bool(re.fullmatch(r"[A-Za-z0-9_-]{43}", value))


def test_identity_headers_carry_the_session_and_never_a_control_character() -> None:
    row = SessionRow("alice", "example.com", 2, "Alice\r\nSet-Cookie: x", "a@example.com", 0, 0, None,
                     ("dev", "ops", "a,b"))
    headers = dict(identity_headers(row))
    assert headers == {b"remote-user": b"alice", b"remote-groups": b"dev,ops", b"remote-name": b"AliceSet-Cookie: x",
                       b"remote-email": b"a@example.com"}
    assert identity_headers(SessionRow("bob", "x", 2, None, None, 0, 0, None, ()))[2] == (b"remote-name", b"bob")
