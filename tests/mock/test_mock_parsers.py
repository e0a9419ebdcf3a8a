"""Property tests of the mock tracker's small parsers: Host headers, --demo-user values, WebAuthn JSON bodies."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.mock.demo import parse_demo_user
from verifier.mock.routes.security_keys import MAX_JSON_BODY, json_object
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


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=20)


@given(st.binary(max_size=512))
def test_any_body_is_an_object_or_none_never_an_exception(raw):
    parsed = json_object(raw)
    assert parsed is None or isinstance(parsed, dict)


@given(st.dictionaries(st.text(), json_values, max_size=5))
def test_a_json_object_body_is_read_back_unchanged(obj):
    assert json_object(json.dumps(obj).encode()) == obj


@given(json_values.filter(lambda v: not isinstance(v, dict)))
def test_a_json_body_that_is_not_an_object_is_refused(value):
    assert json_object(json.dumps(value).encode()) is None


@given(st.integers(min_value=1_000, max_value=30_000), st.sampled_from([b"[", b'{"a":']))
def test_deeply_nested_json_is_refused_not_a_crash(depth, opener):
    assert json_object(opener * depth) is None


def test_a_body_over_the_limit_is_refused_even_when_it_is_a_json_object():
    raw = json.dumps({"credential": "x" * MAX_JSON_BODY}).encode()
    assert json_object(raw) is None
