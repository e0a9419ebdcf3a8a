"""Property tests of the mock tracker's small parsers: Host headers and --demo-user values."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.mock.demo import parse_demo_user
from verifier.mock.security import host_is_ip, host_name, host_port

ports = st.integers(min_value=1, max_value=65535)
labels = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)


@given(st.ip_addresses(v=4), st.none() | ports)
def test_ipv4_hosts_are_recognised_with_or_without_a_port(ip, port):
    header = f"{ip}:{port}" if port else str(ip)
    assert host_is_ip(header)
    assert host_port(header) == port


@given(st.ip_addresses(v=6), st.none() | ports)
def test_bracketed_ipv6_hosts_are_recognised_with_or_without_a_port(ip, port):
    header = f"[{ip}]:{port}" if port else f"[{ip}]"
    assert host_is_ip(header)
    assert host_port(header) == port


@given(st.lists(labels, min_size=1, max_size=4), st.none() | ports)
def test_names_are_not_ip_hosts(parts, port):
    name = ".".join(parts)
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:  # pragma: no cover - a label list never spells an address, but be exact
        return
    header = f"{name}:{port}" if port else name
    assert not host_is_ip(header)
    assert host_port(header) == port


@given(st.lists(labels, min_size=1, max_size=4), st.none() | ports)
def test_host_name_is_the_lower_cased_name_without_the_port(parts, port):
    name = ".".join(parts)
    header = f"{name.upper()}:{port}" if port else name.upper()
    assert host_name(header) == name


@given(st.lists(labels, min_size=1, max_size=4), st.none() | ports)
def test_a_name_ending_in_localhost_is_not_localhost(parts, port):
    name = ".".join([*parts, "localhost"])  # e.g. evil.localhost, or localhost.evil via the next check
    assert host_name(f"{name}:{port}" if port else name) != "localhost"
    assert host_name(f"localhost.{'.'.join(parts)}") != "localhost"


def test_localhost_is_not_an_ip_host():
    assert not host_is_ip("localhost:8080")


@given(st.from_regex(r"[A-Za-z0-9_.@-]{1,40}", fullmatch=True), st.text(min_size=1, max_size=60))
def test_demo_user_round_trips_name_and_password(name, password):
    assert parse_demo_user(f"{name}:{password}") == (name, password)


@pytest.mark.parametrize("bad", ["", "nocolon", ":pw", "name:", "has space:pw", "x" * 151 + ":pw"])
def test_malformed_demo_users_get_a_clear_error(bad):
    with pytest.raises(ValueError, match="--demo-user"):
        parse_demo_user(bad)
