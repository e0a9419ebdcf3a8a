"""verifier/gate/urls.py: the target of a proxied request, the path rules see, and the way back after login."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.gate.urls import BadUrl, forwarded_target, normalise_path, safe_redirect, target_url

DOMAINS = ("example.com",)


@pytest.mark.parametrize("value", [
    "https://jira.example.com/", "https://example.com/", "https://a.b.example.com:8443/x?y=1#z",
    "https://jira.example.com", "https://jira.example.com?x", "https://jira.example.com#top",
    "https://JIRA.Example.COM/Path", "https://jira.example.com/%2F%2Fevil.example",
])
def test_a_url_in_the_domain_is_a_safe_way_back(value: str) -> None:
    assert safe_redirect(value, DOMAINS) is not None


@pytest.mark.parametrize("value", [
    "http://jira.example.com/",  # https only outside localhost names
    "https://evil.example/", "https://example.com.evil.example/", "https://evilexample.com/",
    "https://jira.example.com@evil.example/", "https://jira.example.com:443@evil.example/",
    "https://evil.example\\@jira.example.com/", "https://jira.example.com\\.evil.example/",
    "https://jira.example.com%2F@evil.example/", "https://jira%2eexample.com/", "https://jira.example.com%00/",
    "//jira.example.com/", "/\\evil.example", "https:jira.example.com", "https:/jira.example.com",
    "https:///jira.example.com", "https://jira.example.com//evil.example/", "javascript://example.com/%0aalert(1)",
    "https://jira.example.com\t/", "https://jira.example.com\n.evil/", " https://jira.example.com/",
    "https://jira.example.com/ x", "https://jira。example.com/", "https://jira．example.com/",
    "https://jira.exam\u0440le.com/", "https://xn--jira.example.com\u200b/", "https://[::1]/",
    "https://93.184.216.34/", "https://example.com./", "https://jira.example.com:0/",
    "https://jira.example.com:65536/", "https://jira.example.com:+443/", "https://-jira.example.com/",
    "https://jira_x.example.com/", "", "https://", "https://jira.example.com" + "/a" * 3000,
    "wss://jira.example.com/", "HTTPS://jira.example.com\\@evil.example",
])
def test_anything_else_is_refused_as_a_way_back(value: str) -> None:
    assert safe_redirect(value, DOMAINS) is None


def test_http_is_accepted_only_for_localhost_names() -> None:
    assert safe_redirect("http://app.one.localhost:8080/x", ("one.localhost",)) == "http://app.one.localhost:8080/x"
    assert safe_redirect("http://app.example.com/x", ("example.com",)) is None


def test_the_way_back_is_written_from_its_checked_parts() -> None:
    assert safe_redirect("HTTPS://Jira.Example.com:443/a?b#c", DOMAINS) == "https://jira.example.com/a?b#c"


@given(st.text(max_size=200))
def test_whatever_is_accepted_goes_to_a_host_in_the_domain_as_every_parser_reads_it(value: str) -> None:
    accepted = safe_redirect(value, DOMAINS)
    if accepted is None:
        return
    for parsed in (urlsplit(accepted), urlsplit(value)):
        assert parsed.scheme.lower() == "https"
        host = (parsed.hostname or "").lower()
        assert host == "example.com" or host.endswith(".example.com")
        assert parsed.username is None and parsed.password is None


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
PATHISH = st.text(alphabet="/abc.;%2Fe\\?=&#", max_size=30)


@given(st.lists(LABEL, min_size=1, max_size=3), PATHISH)
def test_a_url_built_from_a_host_in_the_domain_and_any_path_comes_back_on_that_host(labels: list[str],
                                                                                 path: str) -> None:
    host = ".".join([*labels, "example.com"])
    accepted = safe_redirect(f"https://{host}/{path}", DOMAINS)
    if accepted is not None:
        assert urlsplit(accepted).hostname == host


@pytest.mark.parametrize(("raw", "normalised"), [
    ("/admin", "/admin"), ("/%61dmin", "/admin"), ("/x/../admin", "/admin"), ("/x/..;/admin", "/admin"),
    ("/admin;jsessionid=1", "/admin"), ("//admin", "/admin"), ("/./admin/./", "/admin/"),
    ("/a\\..\\admin", "/admin"), ("/a%5c..%5cadmin", "/admin"), ("/%2e%2e/admin", "/admin"),
    ("/../../admin", "/admin"), ("/a/b/..", "/a/"), ("/", "/"), ("", "/"), ("/a%2Fb", "/a/b"),
])
def test_rules_see_the_path_the_tracker_resolves(raw: str, normalised: str) -> None:
    assert normalise_path(raw) == normalised


@given(st.text(max_size=80))
def test_a_normalised_path_is_rooted_and_has_no_dot_or_empty_segments(path: str) -> None:
    out = normalise_path(path)
    assert out.startswith("/")
    inner = out.strip("/").split("/") if out.strip("/") else []
    assert not {"", ".", ".."} & set(inner)
    assert "\\" not in out and ";" not in out


@given(st.text(alphabet=st.characters(blacklist_characters="%"), max_size=80))
def test_normalising_twice_changes_nothing_without_percent_escapes(path: str) -> None:
    assert normalise_path(normalise_path(path)) == normalise_path(path)


def test_the_original_url_of_nginx_and_the_forwarded_headers_of_caddy_name_the_same_target() -> None:
    a = target_url("http://App.One.localhost:8080/x/y?z=1")
    b = forwarded_target("http", "app.one.localhost:8080", "/x/y?z=1")
    assert a == b and a.url == "http://app.one.localhost:8080/x/y?z=1"
    assert target_url("https://jira.example.com:443/").port is None


def test_a_target_with_raw_unicode_is_percent_encoded_as_a_browser_sends_it() -> None:
    assert target_url("https://jira.example.com/wiki/Straße").path == "/wiki/Stra%C3%9Fe"


@pytest.mark.parametrize("raw", ["", "/relative", "ftp://x.example/", "https://user@x.example/",
                                 "https://x.example/a b", "https://x.example/a\r\nSet-Cookie: x",
                                 "https://x_y.example/", "https://[::1/",
                                 "https://x.example:99999/", "https://x.example" + "/a" * 5000, "https:x.example"])
def test_an_unreadable_target_is_refused(raw: str) -> None:
    with pytest.raises(BadUrl):
        target_url(raw)


@given(st.text(max_size=120))
def test_any_text_as_a_target_is_read_or_refused_never_a_crash(raw: str) -> None:
    try:
        target = target_url(raw)
    except BadUrl:
        return
    assert target.url.startswith(("http://", "https://")) and target.path.startswith("/")
    assert target_url(target.url) == target
