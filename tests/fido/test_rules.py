"""Origin, rpId and appId rules: what a browser would allow, nothing more."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from native_host.fido.ceremonies.rules import check_app_id, check_rp_id, checked_origin, registrable_domain
from native_host.fido.errors import OriginRefused

labels = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)


@pytest.mark.parametrize("origin", ["null", "http://jira.example.com", "https://192.0.2.1", "ftp://example.com",
                                    "https://[::1]", 42])
def test_origins_that_may_not_use_security_keys(origin):
    with pytest.raises(OriginRefused):
        checked_origin(origin)


@pytest.mark.parametrize("origin", ["https://jira.example.com", "http://localhost:8080", "http://app.localhost"])
def test_origins_that_may(origin):
    assert checked_origin(origin) == origin


def test_rp_id_may_be_the_host_or_a_registrable_suffix_only():
    assert check_rp_id("example.com", "https://jira.example.com") == "example.com"
    for foreign in ("com", "evil.test", "ample.com", "jira.example.com.evil.test"):
        with pytest.raises(OriginRefused):
            check_rp_id(foreign, "https://jira.example.com")


@given(labels, labels, labels)
def test_app_id_on_the_same_registrable_domain_is_accepted(sub_a, sub_b, site):
    origin = f"https://{sub_a}.{site}.co.uk"
    assert check_app_id(f"https://{sub_b}.{site}.co.uk/app.json", origin).startswith("https://")


@given(labels, labels)
def test_app_id_on_another_registrable_domain_is_refused(site_a, site_b):
    if site_a == site_b:
        return
    with pytest.raises(OriginRefused, match="not on the same site"):
        check_app_id(f"https://x.{site_b}.github.io/app.json", f"https://x.{site_a}.github.io")


def test_registrable_domain_follows_the_public_suffix_list():
    assert registrable_domain("a.b.example.co.uk") == "example.co.uk"
    assert registrable_domain("alice.github.io") == "alice.github.io"
