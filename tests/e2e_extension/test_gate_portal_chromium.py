"""The extension on the tracker2fa gate's portal, in Chromium, through real nginx in front of an upstream:
it fills the portal's code field, and it signs the portal's WebAuthn challenges with the host's virtual key
(registration on the portal's settings page, then a login), each accepted by the gate's real verifier."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest

from tests.gate.support import free_port, start_gate, start_nginx, stop, totp_user, upstream
from verifier.gate import proxy_configs

from .conftest import Chromium, fill_control, make_vault, wait_filled
from .fido_support import confirm_prompt, enable_security_keys, start_chromium_with_virtual_key

pytestmark = pytest.mark.browser
CONFIG = """\
[server]
trusted_proxies = ["127.0.0.1"]
[database]
url = "sqlite:///{db}"
[[domains]]
domain = "one.localhost"
portal = "http://auth.one.localhost:{port}"
[access_control]
default_policy = "two_factor"
"""


@dataclass
class Site:
    port: int
    verifier: Any
    filler_secret: str

    @property
    def portal(self) -> str:
        return f"http://auth.one.localhost:{self.port}"

    def app(self, path: str = "/") -> str:
        return f"http://app.one.localhost:{self.port}{path}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from verifier.core.backup import HashParams
    from verifier.service import Verifier, VerifierSettings
    from verifier.store import open_store

    workdir = tmp_path_factory.mktemp("gate-portal")
    key, port = secrets.token_bytes(32), free_port()
    db = workdir / "gate.db"
    (workdir / "gate.toml").write_text(CONFIG.format(db=db, port=port))
    store = open_store(f"sqlite:///{db}")
    verifier = Verifier(store, VerifierSettings(server_key=key, password_hash=HashParams(n=2**10)))
    filler_secret = totp_user(verifier, "filler")
    with upstream() as address:
        gate = start_gate(workdir / "gate.toml", key, workdir)
        try:
            nginx = start_nginx(proxy_configs.Layout(
                gate=gate.address, authz=gate.authz_address, portal_hosts=("auth.one.localhost",), port=port,
                address="127.0.0.1", tls=None,
                sites=(proxy_configs.Site("app.one.localhost", address),)), workdir)
            try:
                yield Site(port, verifier, filler_secret)
            finally:
                stop(nginx.proc)
        finally:
            stop(gate.proc)
            store.close()


@pytest.fixture(scope="module")
def browser(playwright_instance: Any, tmp_path_factory: pytest.TempPathFactory, site: Site) -> Iterator[Chromium]:
    from native_host.vault.otpauth import parse_otpauth_uri

    root = tmp_path_factory.mktemp("gate-chromium")
    uri = pyotp.TOTP(site.filler_secret).provisioning_uri(name="filler", issuer_name="tracker2fa gate")
    entry = parse_otpauth_uri(uri)
    make_vault(root / "vault.json", [{"secret": entry.secret, "issuer": entry.issuer, "account": entry.account,
                                      "digits": entry.digits, "period": entry.period, "algorithm": entry.algorithm,
                                      "origins": [site.portal]}])
    b = start_chromium_with_virtual_key(playwright_instance, root)
    b.unlock()
    enable_security_keys(b, site.portal)
    yield b
    b.context.close()
    from .conftest import host_pids_for_home, kill_pid

    for pid in host_pids_for_home(b.home):
        kill_pid(pid)


def password_step(page: Any, username: str) -> None:
    page.wait_for_selector("body[data-page=login]")
    page.locator("#login-username").fill(username)
    page.locator("#login-password").fill("correct horse")
    page.locator("#login-submit").click()


def upstream_saw(page: Any) -> dict[str, str]:
    """The identity headers the upstream behind nginx received (it answers with what reached it)."""
    seen = json.loads(page.locator("body").inner_text())
    return {name.lower(): value for name, value in seen["headers"] if name.lower().startswith("remote-")}


def test_the_extension_fills_the_portals_code_and_the_upstream_gets_the_user(browser: Chromium, site: Site) -> None:
    browser.context.clear_cookies()
    page = browser.open(site.app("/board"))
    password_step(page, "filler")
    page.wait_for_selector("body[data-page=second-factor]")
    fill_control(page).click()
    code = wait_filled(page.locator("#otp-code"))
    totp = pyotp.TOTP(site.filler_secret)
    assert code in {totp.now(), totp.at(time.time() - 30)}
    page.locator("#otp-submit").click()
    page.wait_for_url(site.app("/board"))
    assert upstream_saw(page)["remote-user"] == "filler"
    page.close()


def test_the_extension_signs_the_portals_webauthn_challenges(browser: Chromium, site: Site) -> None:
    # A user of this attempt's own: a rerun must not meet the key and the sign-ins a failed attempt left behind.
    keyholder = f"keyholder-{secrets.token_hex(4)}"
    keyholder_secret = totp_user(site.verifier, keyholder)
    browser.context.clear_cookies()
    page = browser.open(site.app("/"))
    password_step(page, keyholder)
    page.wait_for_selector("body[data-page=second-factor]")
    page.locator("#otp-code").fill(pyotp.TOTP(keyholder_secret).now())  # typed from the user's app
    page.locator("#otp-submit").click()
    page.wait_for_url(site.app("/"))

    page.goto(f"{site.portal}/settings")
    page.locator("#key-name").fill("virtual key via the extension")
    page.locator("#register-key").click()
    confirm_prompt(browser)
    page.wait_for_selector("[data-testid=security-key], body[data-webauthn=failed]", timeout=30000)
    assert page.locator("body[data-webauthn=failed]").count() == 0, page.locator("#webauthn-error").text_content()
    assert [k.name for k in site.verifier.list_credentials(keyholder)] == ["virtual key via the extension"]

    page.locator("#logout-submit").click()
    page.wait_for_selector("body[data-page=logged-out]")
    page.goto(site.app("/after-key"))
    password_step(page, keyholder)
    page.wait_for_selector("body[data-page=second-factor]")
    page.locator("#use-security-key").click()
    confirm_prompt(browser)
    page.wait_for_selector("body[data-webauthn=failed], body > pre, body:not([data-page])", timeout=30000)
    assert page.url == site.app("/after-key"), page.locator("#webauthn-error").text_content()
    assert upstream_saw(page)["remote-user"] == keyholder
    methods = [e.method for e in site.verifier.audit(username=keyholder, event="session_upgraded")]
    assert methods[-1] == "webauthn"
    page.close()
