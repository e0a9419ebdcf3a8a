"""Policy rules: modes, groups, exclusions, IP allowlist (pure functions)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.core.policy import Policy

NOW = 1_800_000_000.0


@pytest.mark.parametrize(("mode", "groups", "expected"), [
    ("none", ("dev",), False),
    ("all", (), True),
    ("groups", ("dev",), True),
    ("groups", ("ops",), False),
    ("all_except_groups", ("dev",), False),
    ("all_except_groups", ("ops",), True),
])
def test_each_mode_decides_by_group_membership(mode, groups, expected):
    policy = Policy.validated(mode, ["dev"] if mode in ("groups", "all_except_groups") else [])
    assert policy.requires(groups, None, "192.0.2.1", NOW) is expected


def test_an_exclusion_skips_the_second_factor_until_it_ends():
    policy = Policy.validated("all")
    assert policy.requires((), NOW + 10, "192.0.2.1", NOW) is False
    assert policy.requires((), NOW - 10, "192.0.2.1", NOW) is True


@pytest.mark.parametrize("ip", ["10.1.2.3", "2001:db8::42", "::ffff:10.9.9.9"])
def test_addresses_in_the_allowlist_skip_the_second_factor(ip):
    policy = Policy.validated("all", ip_allowlist=["10.0.0.0/8", "2001:db8::/32"])
    assert policy.requires((), None, ip, NOW) is False


@pytest.mark.parametrize("ip", ["11.0.0.1", "2001:db9::1", "not-an-ip", ""])
def test_addresses_outside_the_allowlist_still_need_it(ip):
    policy = Policy.validated("all", ip_allowlist=["10.0.0.0/8", "2001:db8::/32"])
    assert policy.requires((), None, ip, NOW) is True


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"mode": "sometimes"}, "mode"),
    ({"mode": "groups"}, "group"),
    ({"mode": "all", "ip_allowlist": ["10.0.0.0/33"]}, "network"),
    ({"mode": "all", "ip_allowlist": ["example.com"]}, "network"),
    ({"mode": "all", "remember_days": 400}, "remember_days"),
    ({"mode": "all", "remember_days": -1}, "remember_days"),
])
def test_invalid_policies_are_refused_with_a_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Policy.validated(**kwargs)


def test_a_policy_round_trips_through_its_dict():
    policy = Policy.validated("groups", ["b", "a"], ["10.0.0.0/8"], 7)
    assert Policy.from_dict(policy.to_dict()) == policy


@given(net=st.ip_addresses(v=4), prefix=st.integers(min_value=8, max_value=32), host=st.integers(min_value=0))
def test_every_address_inside_an_allowed_v4_network_is_allowed(net, prefix, host):
    network = ipaddress.ip_network(f"{net}/{prefix}", strict=False)
    address = network[host % network.num_addresses]
    assert Policy.validated("all", ip_allowlist=[str(network)]).ip_allowed(str(address))


@given(net=st.ip_addresses(v=6), prefix=st.integers(min_value=16, max_value=128), host=st.integers(min_value=0))
def test_every_address_inside_an_allowed_v6_network_is_allowed(net, prefix, host):
    network = ipaddress.ip_network(f"{net}/{prefix}", strict=False)
    address = network[host % network.num_addresses]
    assert Policy.validated("all", ip_allowlist=[str(network)]).ip_allowed(str(address))


@given(text=st.text(max_size=30))
def test_arbitrary_allowlist_entries_are_accepted_as_networks_or_refused_cleanly(text):
    try:
        policy = Policy.validated("all", ip_allowlist=[text])
    except ValueError as exc:
        assert "network" in str(exc)
    else:
        assert ipaddress.ip_network(policy.ip_allowlist[0])
