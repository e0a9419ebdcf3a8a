"""The gate behind real proxies (Debian's nginx with auth_request, Debian's Caddy with forward_auth), a small
upstream behind them: what reaches the tracker, and what never does."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, quote, urlsplit

import pyotp
import pytest

from .conftest import Stack
from .support import Browser, log_in, seen_headers, totp_user


def new_name(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def test_an_anonymous_request_goes_to_the_portal_with_the_way_back(stack: Stack) -> None:
    reply = stack.browser().get(stack.url("app.one.localhost", "/issues/JIB-1?sort=up"), follow=False)
    assert reply.status == 302
    location = urlsplit(reply.header("location") or "")
    assert f"{location.scheme}://{location.netloc}" == stack.portal()
    assert parse_qs(location.query)["rd"] == [stack.url("app.one.localhost", "/issues/JIB-1?sort=up")]


def test_after_both_factors_the_upstream_sees_the_user_and_the_groups(stack: Stack) -> None:
    name = new_name()
    secret = totp_user(stack.verifier, name, groups=("developers", "qa"))
    browser = stack.browser()
    reply = log_in(browser, stack.url("app.one.localhost", "/issues?x=1"), name, secret)
    assert reply.status == 200 and reply.url == stack.url("app.one.localhost", "/issues?x=1")
    seen = seen_headers(reply)
    assert seen["remote-user"] == [name]
    assert seen["remote-groups"] == ["developers,qa"]
    assert seen["remote-name"] == [name]


def test_the_password_alone_does_not_pass_a_two_factor_rule(stack: Stack) -> None:
    name = new_name()
    totp_user(stack.verifier, name)
    browser = stack.browser()
    asked = log_in(browser, stack.app, name, None)  # stops at the second-factor page
    assert 'data-page="second-factor"' in asked.text
    again = browser.get(stack.url("app.one.localhost", "/x"), follow=False)
    assert again.status == 302 and again.header("location", ).startswith(stack.portal())  # type: ignore[union-attr]


def test_a_one_factor_rule_takes_the_password_alone(stack: Stack) -> None:
    name = new_name()
    totp_user(stack.verifier, name)
    reply = log_in(stack.browser(), stack.url("app.one.localhost", "/light/page"), name, None)
    assert reply.url == stack.url("app.one.localhost", "/light/page")
    assert seen_headers(reply)["remote-user"] == [name]


def test_a_bypass_rule_passes_without_a_session_and_without_identity(stack: Stack) -> None:
    reply = stack.browser().get(stack.url("app.one.localhost", "/public/health"), follow=False)
    assert reply.status == 200
    assert "remote-user" not in seen_headers(reply)


def test_deny_denies_even_after_both_factors(stack: Stack) -> None:
    name = new_name()
    secret = totp_user(stack.verifier, name)
    browser = stack.browser()
    log_in(browser, stack.app, name, secret)
    reply = browser.get(stack.url("app.one.localhost", "/forbidden/x"), follow=False)
    assert reply.status == 403


def test_a_group_rule_lets_members_in_and_denies_the_others(stack: Stack) -> None:
    member, other = new_name("admin"), new_name()
    browser = stack.browser()
    log_in(browser, stack.app, member, totp_user(stack.verifier, member, groups=("admins",)))
    assert browser.get(stack.url("app.one.localhost", "/admins/x"), follow=False).status == 200
    browser = stack.browser()
    log_in(browser, stack.app, other, totp_user(stack.verifier, other, groups=("developers",)))
    assert browser.get(stack.url("app.one.localhost", "/admins/x"), follow=False).status == 403


def test_a_stranger_asking_for_a_group_page_is_sent_to_log_in_not_told_it_is_denied(stack: Stack) -> None:
    reply = stack.browser().get(stack.url("app.one.localhost", "/admins/x"), follow=False)
    assert reply.status == 302


def test_logout_takes_effect_on_the_next_request(stack: Stack) -> None:
    name = new_name()
    browser = stack.browser()
    log_in(browser, stack.app, name, totp_user(stack.verifier, name))
    assert browser.get(stack.app, follow=False).status == 200
    token = browser.cookie("tracker2fa_session", "one.localhost").value  # type: ignore[union-attr]
    out = browser.post(f"{stack.portal()}/logout", {})
    assert 'data-page="logged-out"' in out.text
    assert browser.cookie("tracker2fa_session", "one.localhost") is None
    assert browser.get(stack.app, follow=False).status == 302
    replay = Browser(stack.port)
    replay.jar = {("one.localhost", "tracker2fa_session"): browser_cookie(token)}
    assert replay.get(stack.app, follow=False).status == 302  # the old cookie value is dead server-side too


def browser_cookie(value: str):
    from .support import Cookie

    return Cookie(value, "one.localhost", False, {})


def test_a_forged_remote_user_never_reaches_the_upstream(stack: Stack) -> None:
    forged = {"Remote-User": "admin", "Remote_User": "admin", "Remote-Groups": "admins", "Remote-Email": "x@y"}
    anonymous = stack.browser().get(stack.url("app.one.localhost", "/public/x"), headers=forged, follow=False)
    seen = seen_headers(anonymous)
    assert anonymous.status == 200
    assert not {"remote-user", "remote_user", "remote-groups", "remote-email"} & set(seen), seen
    name = new_name()
    browser = stack.browser()
    log_in(browser, stack.app, name, totp_user(stack.verifier, name))
    signed_in = browser.get(stack.url("app.one.localhost", "/x"), headers=forged, follow=False)
    seen = seen_headers(signed_in)
    assert seen["remote-user"] == [name]
    assert not {"remote-groups", "remote-email", "remote_user"} & set(seen)  # the user has none: never "admins"


def test_a_session_cookie_of_one_domain_is_refused_on_another(stack: Stack) -> None:
    name = new_name()
    browser = stack.browser()
    log_in(browser, stack.app, name, totp_user(stack.verifier, name))
    token = browser.cookie("tracker2fa_session", "one.localhost").value  # type: ignore[union-attr]
    thief = stack.browser()
    thief.jar = {("two.localhost", "tracker2fa_session"): _cookie(token, "two.localhost")}
    reply = thief.get(stack.url("app.two.localhost", "/x"), follow=False)
    assert reply.status == 302 and (reply.header("location") or "").startswith(stack.portal("two.localhost"))


def _cookie(value: str, domain: str):
    from .support import Cookie

    return Cookie(value, domain, False, {})


OPEN_REDIRECTS = [
    "https://evil.example/",
    "http://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "https:evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http://app.one.localhost.evil.example/",
    "http://evilone.localhost/",
    "http://app.one.localhost@evil.example/",
    "http://app.one.localhost:1@evil.example/",
    "http://app.one.localhost%40evil.example/",
    "http://app.one.localhost%2F@evil.example/",
    "http://evil.example\\@app.one.localhost/",
    "http://evil.example%5C@app.one.localhost/",
    "http://evil.example#@app.one.localhost/",
    "http://evil.example?@app.one.localhost/",
    "http://app.one.localhost\t.evil.example/",
    "http://app.one.localhost\n.evil.example/",
    " http://evil.example/",
    "http://evil.example/ http://app.one.localhost/",
    "http://app。one.localhost/",
    "http://app．one．localhost/",
    "http://app.one.localhost／@evil.example",
    "http://ａpp.one.localhost/",
    "http://app.one.localhost\u202e/",
    "http://[::1]/",
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://app.two.localhost/",
    "https%3A%2F%2Fevil.example%2F",
    "http%3A//evil.example",
    "http://app.one.localhost./",
    "HTTP://EVIL.EXAMPLE/",
    "ftp://app.one.localhost/",
    "http://app.one.localhost:99999/",
    "http://app.one.localhost//evil.example/",
]


@pytest.mark.parametrize("rd", OPEN_REDIRECTS)
def test_an_open_redirect_is_refused(stack: Stack, rd: str) -> None:
    name = new_name()
    secret = totp_user(stack.verifier, name)
    browser = stack.browser()
    page = browser.get(f"{stack.portal()}/?rd={quote(rd, safe='')}")
    assert page.status == 200 and 'data-page="login"' in page.text
    assert 'name="rd"' not in page.text  # the refused value is not carried on
    reply = browser.post(f"{stack.portal()}/login", {"username": name, "password": "correct horse", "rd": rd},
                         follow=False)
    assert reply.status in (200, 303), reply.status
    location = reply.header("location") or ""
    assert reply.status == 200 or location.startswith("/"), location
    done = browser.post(f"{stack.portal()}/2fa", {"code": pyotp.TOTP(secret).now(), "rd": rd}, follow=False)
    assert done.status == 200 and 'data-page="signed-in"' in done.text, (done.status, done.header("location"))


def test_the_way_back_within_the_domain_is_followed(stack: Stack) -> None:
    name = new_name()
    reply = log_in(stack.browser(), stack.url("app.one.localhost", "/deep/page?a=1&b=%2F"), name,
                   totp_user(stack.verifier, name))
    assert reply.url == stack.url("app.one.localhost", "/deep/page?a=1&b=%2F")
    assert seen_headers(reply)["remote-user"] == [name]


def test_admin_revocation_through_the_api_takes_effect_on_the_next_request(stack: Stack) -> None:
    from tests.verifier.cluster import start_node, stop_node

    name = new_name()
    browser = stack.browser()
    log_in(browser, stack.app, name, totp_user(stack.verifier, name))
    assert browser.get(stack.app, follow=False).status == 200
    node = start_node(stack.db_url, stack.workdir, workers=1, key=stack.key, admin_token="a" * 24,
                      service_token="s" * 24)
    try:
        status, listed = node.call("GET", f"/v1/admin/users/{name}/sessions", admin=True)
        assert status == 200 and [s["level"] for s in listed["sessions"]] == [2]
        assert "token" not in str(listed) and browser.cookie("tracker2fa_session", "one.localhost").value \
            not in str(listed)  # type: ignore[union-attr]
        status, revoked = node.call("DELETE", f"/v1/admin/users/{name}/sessions", admin=True)
        assert (status, revoked) == (200, {"count": 1})
    finally:
        stop_node(node)
    reply = browser.get(stack.app, follow=False)
    assert reply.status == 302 and (reply.header("location") or "").startswith(stack.portal())


def test_forwarding_headers_from_an_untrusted_address_are_refused(stack: Stack) -> None:
    import http.client

    name = new_name()
    browser = stack.browser()
    log_in(browser, stack.app, name, totp_user(stack.verifier, name))
    cookie = browser.cookie_header("app.one.localhost")
    claims = {"X-Original-URL": stack.url("app.one.localhost", "/x"), "Cookie": cookie,
              "X-Forwarded-For": "127.0.0.1"}
    answers = {}
    for port in (stack.gate.authz_port, stack.gate.port):  # the check's own listener, and through ASGI
        for source in ("127.0.0.1", "127.0.0.2"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
            conn.request("GET", "/api/authz/auth-request", headers=claims)
            response = conn.getresponse()
            answers[port, source] = (response.status, response.getheader("remote-user"))
            conn.close()
    assert answers == {(p, s): ((200, name) if s == "127.0.0.1" else (403, None))
                       for p in (stack.gate.authz_port, stack.gate.port) for s in ("127.0.0.1", "127.0.0.2")}


def test_the_session_cookie_is_domain_wide_httponly_lax_and_not_secure_on_localhost(stack: Stack) -> None:
    name = new_name()
    browser = stack.browser()
    log_in(browser, stack.app, name, totp_user(stack.verifier, name))
    cookie = browser.cookie("tracker2fa_session", "one.localhost")
    assert cookie is not None and not cookie.host_only
    assert {"httponly": "", "samesite": "Lax", "path": "/"}.items() <= cookie.attributes.items()
    assert "secure" not in cookie.attributes  # plain http on localhost names (https everywhere else)
    assert 0 < int(cookie.attributes["max-age"]) <= 8 * 3600


def test_each_factor_gives_a_new_token_and_the_old_one_dies(stack: Stack) -> None:
    name = new_name()
    secret = totp_user(stack.verifier, name)
    browser = stack.browser()
    log_in(browser, stack.url("app.one.localhost", "/light/x"), name, None)
    first = browser.cookie("tracker2fa_session", "one.localhost").value  # type: ignore[union-attr]
    browser.post(f"{stack.portal()}/2fa", {"code": pyotp.TOTP(secret).now()})
    second = browser.cookie("tracker2fa_session", "one.localhost").value  # type: ignore[union-attr]
    assert first != second
    assert browser.get(stack.app, follow=False).status == 200
    old = Browser(stack.port)
    old.jar = {("one.localhost", "tracker2fa_session"): _cookie(first, "one.localhost")}
    assert old.get(stack.url("app.one.localhost", "/light/x"), follow=False).status == 302
