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


# ---- the TOTP settings of new enrolments (issue 23) -----------------------------------------------------

NUMBERS = {"totp_digits": (6, 8), "totp_period": (15, 300), "totp_window": (0, 10)}


@given(field=st.sampled_from(sorted(NUMBERS)), value=st.integers(min_value=-10**6, max_value=10**6))
def test_a_totp_number_is_accepted_exactly_within_its_range_else_refused_naming_the_range(field, value):
    low, high = NUMBERS[field]
    try:
        policy = Policy.validated("all", **{field: value})
    except ValueError as exc:
        assert not low <= value <= high
        assert f"{field} must be a whole number from {low} to {high}" in str(exc)
    else:
        assert low <= value <= high and getattr(policy, field) == value


@pytest.mark.parametrize("value", [True, 7.0, "7", None])
def test_a_totp_number_that_is_not_a_whole_number_is_refused(value):
    with pytest.raises(ValueError, match="totp_digits must be a whole number"):
        Policy.validated("all", totp_digits=value)


@pytest.mark.parametrize(("given_name", "stored"), [("SHA256", "SHA256"), ("sha512", "SHA512"), (" sha-1 ", "SHA1")])
def test_the_algorithm_is_read_in_any_case_and_stored_as_rfc_6238_names_it(given_name, stored):
    assert Policy.validated("all", totp_algorithm=given_name).totp_algorithm == stored


@given(text=st.text(max_size=130))
def test_an_issuer_is_accepted_when_printable_without_colon_and_short_else_refused_cleanly(text):
    try:
        policy = Policy.validated("all", issuer=text)
    except ValueError as exc:
        assert "issuer must be at most 100 printable characters without ':'" in str(exc)
        assert ":" in text or len(text.strip()) > 100 or not all(c.isprintable() for c in text)
    else:
        assert policy.issuer == text.strip() and ":" not in policy.issuer and len(policy.issuer) <= 100


def test_a_policy_with_totp_settings_round_trips_through_its_dict():
    policy = Policy.validated("all", totp_digits=8, totp_period=60, totp_algorithm="SHA256", totp_window=2,
                              issuer="Acme Jira")
    assert Policy.from_dict(policy.to_dict()) == policy


def test_a_policy_stored_before_the_totp_settings_takes_them_from_the_defaults():
    defaults = Policy.validated("all", totp_digits=7, issuer="Jibra")
    policy = Policy.from_dict({"mode": "none", "groups": [], "ip_allowlist": [], "remember_days": 3}, defaults)
    assert (policy.mode, policy.remember_days, policy.totp_digits, policy.issuer) == ("none", 3, 7, "Jibra")


def test_the_totp_params_of_a_policy_are_its_settings():
    params = Policy.validated("all", totp_digits=8, totp_period=60, totp_algorithm="SHA512",
                              totp_window=3).totp_params()
    assert (params.digits, params.period, params.algorithm, params.window) == (8, 60, "SHA512", 3)


def test_a_change_is_described_by_the_old_and_new_value_of_each_field_that_differs():
    old = Policy.validated("all")
    new = Policy.validated("groups", ["dev"], totp_digits=8)
    assert new.changes_from(old) == "mode: 'all' → 'groups'; groups: - → dev; totp_digits: 6 → 8"
    assert new.changes_from(new) == "no change"
