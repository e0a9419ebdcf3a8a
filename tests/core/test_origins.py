import pytest

from native_host.errors import InvalidOrigin
from native_host.origins import normalize_origin, origin_matches


def test_default_port_and_case_are_canonicalised():
    assert normalize_origin("HTTPS://Jira.Example.com:443/login?x=1") == "https://jira.example.com"


def test_suffix_host_does_not_match():
    assert not origin_matches("https://jira.example.com", "https://jira.example.com.evil.test")


def test_other_scheme_does_not_match():
    assert not origin_matches("https://jira.example.com", "http://jira.example.com")


def test_other_port_does_not_match():
    assert not origin_matches("http://127.0.0.1:8080", "http://127.0.0.1:8081")


def test_ip_and_localhost_are_different_origins():
    assert not origin_matches("http://127.0.0.1:8080", "http://localhost:8080")


@pytest.mark.parametrize("bad", ["", "jira.example.com", "ftp://x", "https://", "https://u:p@x", "https://a b"])
def test_invalid_origins_are_rejected(bad):
    with pytest.raises(InvalidOrigin):
        normalize_origin(bad)
