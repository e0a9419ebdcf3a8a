"""The gate's portal and forward-auth check in process (real FastAPI/ASGI app, real verifier on SQLite,
a settable clock): lifetimes, remembered devices, backup codes, security keys, lockout, the guard."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pyotp
import pytest

from verifier.gate.app import GateApp, create_gate_app
from verifier.gate.config import load_config

from .support import Browser, asgi_sender

PORTAL = "http://auth.one.localhost:8000"
APP = "http://app.one.localhost:8000"
CONFIG = """\
[session]
idle_timeout = "30m"
absolute_timeout = "8h"
[[domains]]
domain = "one.localhost"
portal = "http://auth.one.localhost:8000"
[access_control]
default_policy = "two_factor"
"""


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Env:
    app: GateApp
    clock: Clock

    @property
    def verifier(self) -> Any:
        return self.app.context.verifiers["one.localhost"]

    def browser(self) -> Browser:
        return Browser(send=asgi_sender(self.app))

    def check(self, browser: Browser, path: str = "/x") -> tuple[int, str | None]:
        """The forward-auth answer for ``browser`` asking for ``APP + path``, asked as nginx asks (from the
        trusted proxy's address, with the browser's cookies)."""
        headers = {"Host": "127.0.0.1:9091", "X-Original-URL": APP + path, "X-Forwarded-For": browser.source,
                   "Cookie": browser.cookie_header("app.one.localhost")}
        status, got, _body = browser.send("GET", "http://127.0.0.1:9091/api/authz/auth-request", headers, None,
                                          "127.0.0.1")
        return status, next((v for k, v in got if k.lower() == "remote-user"), None)

    def user(self, name: str, *, totp: bool = True, groups: tuple[str, ...] = ()) -> str | None:
        self.verifier.create_user(name, "pw-" + name, groups)
        if not totp:
            return None
        enrolment = self.verifier.totp_enroll_begin(name)
        assert self.verifier.totp_enroll_confirm(name, pyotp.TOTP(enrolment.secret).at(self.clock() - 30),
                                                 "192.0.2.1", "t").ok
        return enrolment.secret

    def log_in(self, browser: Browser, name: str, secret: str | None, *, remember: bool = False) -> Any:
        reply = browser.post(f"{PORTAL}/login", {"username": name, "password": "pw-" + name, "rd": APP + "/x"})
        if secret is not None and 'data-page="second-factor"' in reply.text:
            form = {"code": pyotp.TOTP(secret).at(self.clock()), "rd": APP + "/x"}
            reply = browser.post(f"{PORTAL}/2fa", {**form, **({"remember": "1"} if remember else {})},
                                 follow=False)
        return reply


@pytest.fixture
def env(tmp_path) -> Iterator[Env]:
    from verifier.core.backup import HashParams
    from verifier.store import open_store

    clock = Clock()
    store = open_store(f"sqlite:///{tmp_path / 'gate.db'}")
    app = create_gate_app(load_config(CONFIG), store, clock=clock, server_key=secrets.token_bytes(32),
                          password_hash=HashParams(n=2**10), backup_hash=HashParams(n=2**10))
    yield Env(app, clock)
    store.close()


def test_a_session_idle_longer_than_the_idle_timeout_is_refused(env: Env) -> None:
    secret = env.user("idle")
    browser = env.browser()
    env.log_in(browser, "idle", secret)
    assert env.check(browser) == (200, "idle")
    env.clock.now += 29 * 60
    assert env.check(browser) == (200, "idle")  # activity: the idle clock starts again
    env.clock.now += 29 * 60
    assert env.check(browser) == (200, "idle")
    env.clock.now += 31 * 60
    assert env.check(browser)[0] == 401


def test_a_busy_session_ends_at_its_absolute_timeout(env: Env) -> None:
    secret = env.user("busy")
    browser = env.browser()
    env.log_in(browser, "busy", secret)
    for _ in range(15):  # 7.5 hours of requests every half hour minus a bit
        env.clock.now += 29 * 60
        assert env.check(browser) == (200, "busy")
    env.clock.now += 2 * 3600
    assert env.check(browser)[0] == 401


def test_a_remembered_device_skips_the_second_factor_and_its_token_rotates(env: Env) -> None:
    env.verifier.set_policy("all", remember_days=7)
    secret = env.user("dev")
    browser = env.browser()
    env.log_in(browser, "dev", secret, remember=True)
    device = browser.cookie("tracker2fa_device", "auth.one.localhost")
    assert device is not None and device.host_only and int(device.attributes["max-age"]) == 7 * 86400
    later = env.browser()
    later.jar = {("auth.one.localhost", "tracker2fa_device"): device}
    reply = later.post(f"{PORTAL}/login", {"username": "dev", "password": "pw-dev", "rd": APP + "/x"},
                       follow=False)
    assert reply.status == 303 and reply.header("location") == APP + "/x"
    assert env.check(later) == (200, "dev")
    assert later.cookie("tracker2fa_device", "auth.one.localhost").value != device.value  # type: ignore[union-attr]
    replayed = env.browser()
    replayed.jar = {("auth.one.localhost", "tracker2fa_device"): device}
    again = replayed.post(f"{PORTAL}/login", {"username": "dev", "password": "pw-dev", "rd": APP + "/x"})
    assert 'data-page="second-factor"' in again.text  # the old device token died when it was used


def test_a_backup_code_is_a_second_factor_once(env: Env) -> None:
    env.user("bk")
    codes = env.verifier.generate_backup_codes("bk")
    browser = env.browser()
    browser.post(f"{PORTAL}/login", {"username": "bk", "password": "pw-bk", "rd": APP + "/x"})
    reply = browser.post(f"{PORTAL}/2fa/backup", {"code": codes[0], "rd": APP + "/x"}, follow=False)
    assert reply.status == 303 and env.check(browser) == (200, "bk")
    other = env.browser()
    other.post(f"{PORTAL}/login", {"username": "bk", "password": "pw-bk", "rd": APP + "/x"})
    refused = other.post(f"{PORTAL}/2fa/backup", {"code": codes[0], "rd": APP + "/x"})
    assert refused.status == 401 and env.check(other)[0] == 401


def test_a_security_key_registered_on_the_portal_is_a_second_factor(env: Env) -> None:
    from tests.support.host_key import HostKey

    secret = env.user("key")
    browser = env.browser()
    env.log_in(browser, "key", secret)
    begin = browser.request("POST", f"{PORTAL}/settings/keys/begin", json_body={})
    assert begin.status == 200
    key = HostKey()
    credential = key.create(PORTAL, _json(begin)["options"])
    done = browser.request("POST", f"{PORTAL}/settings/keys/complete", json_body={"credential": credential,
                                                                                   "name": "desk key"})
    assert _json(done) == {"ok": True, "redirect": "/settings"}
    fresh = env.browser()
    fresh.post(f"{PORTAL}/login", {"username": "key", "password": "pw-key", "rd": APP + "/x"})
    begin = fresh.request("POST", f"{PORTAL}/2fa/webauthn/begin", json_body={})
    assertion = key.get(PORTAL, _json(begin)["options"])
    done = fresh.request("POST", f"{PORTAL}/2fa/webauthn/complete",
                         json_body={"credential": assertion, "rd": APP + "/x"})
    assert _json(done) == {"ok": True, "redirect": APP + "/x"}
    assert env.check(fresh) == (200, "key")
    replay = fresh.request("POST", f"{PORTAL}/2fa/webauthn/complete", json_body={"credential": assertion})
    assert replay.status == 409  # the session is past the second factor; the challenge was spent anyway


def _json(reply: Any) -> Any:
    import json

    return json.loads(reply.body)


def test_wrong_codes_lock_the_second_factor_with_the_verifiers_back_off(env: Env) -> None:
    secret = env.user("lock")
    browser = env.browser()
    browser.post(f"{PORTAL}/login", {"username": "lock", "password": "pw-lock", "rd": APP + "/x"})
    right = pyotp.TOTP(secret).at(env.clock())
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(6):
        reply = browser.post(f"{PORTAL}/2fa", {"code": wrong})
    assert reply.status == 401 and "temporarily locked" in reply.text
    assert "temporarily locked" in browser.post(f"{PORTAL}/2fa", {"code": right}).text  # not even checked
    assert env.check(browser)[0] == 401


def test_a_post_without_the_portals_origin_is_refused(env: Env) -> None:
    env.user("csrf", totp=False)
    browser = env.browser()
    for origin in ("http://evil.example", "null", f"{APP}"):
        reply = browser.post(f"{PORTAL}/login", {"username": "csrf", "password": "pw-csrf"}, origin=origin)
        assert reply.status == 403 and 'data-page="cross-site"' in reply.text
    reply = browser.request("POST", f"{PORTAL}/login", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 403  # no Origin at all
    assert browser.jar == {}


def test_an_unknown_host_gets_no_portal(env: Env) -> None:
    reply = env.browser().get("http://evil.example:8000/")
    assert reply.status == 400 and b"no portal" in reply.body


def test_a_half_logged_in_user_with_a_factor_cannot_enrol_a_new_one(env: Env) -> None:
    secret = env.user("enr")
    browser = env.browser()
    browser.post(f"{PORTAL}/login", {"username": "enr", "password": "pw-enr", "rd": APP + "/x"})
    page = browser.get(f"{PORTAL}/enrol", follow=False)
    assert page.status == 303 and page.header("location", ).startswith("/2fa")  # type: ignore[union-attr]
    attempt = browser.post(f"{PORTAL}/enrol", {"code": "123456"}, follow=False)
    assert attempt.status == 303
    assert env.verifier.verify_totp("enr", pyotp.TOTP(secret).at(env.clock()), "192.0.2.9", "t").ok


def test_first_login_without_a_factor_enrols_totp_and_shows_backup_codes_once(env: Env) -> None:
    env.user("new", totp=False)
    browser = env.browser()
    page = browser.post(f"{PORTAL}/login", {"username": "new", "password": "pw-new", "rd": APP + "/x"})
    assert 'data-page="enrol"' in page.text and env.check(browser)[0] == 401
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page.text).group(1)  # type: ignore[union-attr]
    shown = browser.post(f"{PORTAL}/enrol", {"code": pyotp.TOTP(secret).at(env.clock()), "rd": APP + "/x"})
    assert len(re.findall(r"<li><code>", shown.text)) == 10
    assert env.check(browser) == (200, "new")


def test_a_user_the_policy_exempts_passes_two_factor_rules_with_the_password(env: Env) -> None:
    env.verifier.set_policy("none")
    env.user("free", totp=False)
    browser = env.browser()
    reply = browser.post(f"{PORTAL}/login", {"username": "free", "password": "pw-free", "rd": APP + "/x"},
                         follow=False)
    assert reply.status == 303 and reply.header("location") == APP + "/x"
    assert env.check(browser) == (200, "free")
    assert [e.detail for e in env.verifier.audit(username="free", event="session_upgraded")] == \
        ["one.localhost, level 2"]


def test_forward_auth_redirects_a_page_with_303_after_a_post_and_answers_a_script_with_401(env: Env) -> None:
    browser = env.browser()
    headers = {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "app.one.localhost:8000", "X-Forwarded-Uri": "/a?b",
               "X-Forwarded-Method": "POST"}
    proxy = Browser(send=browser.send, source="127.0.0.1")
    page = proxy.get(f"{PORTAL}/api/authz/forward-auth", headers={**headers, "Accept": "text/html"}, follow=False)
    assert page.status == 303
    rd = parse_qs(urlsplit(page.header("location") or "").query)["rd"]
    assert rd == [APP + "/a?b"]
    script = proxy.get(f"{PORTAL}/api/authz/forward-auth", headers={**headers, "Accept": "application/json"},
                       follow=False)
    assert script.status == 401 and script.header("location") == f"{PORTAL}/?rd={quote(APP + '/a?b', safe='')}"


def test_a_way_back_into_a_nested_domain_of_its_own_is_left_to_that_domains_portal(tmp_path) -> None:
    from verifier.store import open_store

    nested = CONFIG + '[[domains]]\ndomain = "sub.one.localhost"\nportal = "http://auth.sub.one.localhost:8000"\n'
    store = open_store(f"sqlite:///{tmp_path / 'nested.db'}")
    app = create_gate_app(load_config(nested), store, server_key=secrets.token_bytes(32))
    browser = Browser(send=asgi_sender(app))
    own = browser.get(f"{PORTAL}/?rd={quote(APP + '/x', safe='')}")
    other = browser.get(f"{PORTAL}/?rd={quote('http://x.sub.one.localhost:8000/y', safe='')}")
    assert 'name="rd"' in own.text and 'data-testid="notice"' not in own.text
    assert 'name="rd"' not in other.text and 'data-testid="notice"' in other.text
    store.close()
