"""Security keys on the mock pages through Chromium's own WebAuthn client and a CDP virtual authenticator.

The page is http://localhost:PORT (WebAuthn refuses IP origins); the authenticator is CTAP2 over USB,
without resident keys, with automatic presence so no one has to touch anything.
"""

from __future__ import annotations

import re

import pytest

from tests.mock.support import login_with_password

pytestmark = pytest.mark.browser


@pytest.fixture
def key_page(browser):
    """A page with a virtual security key attached; yields (page, cdp, authenticator_id)."""
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": False, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True,
    }})
    yield page, cdp, added["authenticatorId"]
    context.close()


def sign_in_and_register_key(mock_server, page, name: str = "Blue key", *, log_out: bool = True) -> tuple[str, str]:
    """Log in with TOTP, register a key on the account page, log out (unless told not to).

    Returns (user, password)."""
    user, password = mock_server.new_user("key")
    totp = mock_server.enrol_totp(user)
    login_with_password(page, mock_server.url, user, password)
    page.fill("#otp-code", mock_server.code(totp))
    page.click("#otp-submit")
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.goto(f"{mock_server.url}/account")
    page.fill("#key-name", name)
    page.click("#register-key")
    page.wait_for_selector("[data-testid=security-key]")
    if log_out:
        page.click("#logout")
        page.wait_for_url(re.compile(r"/login$"))
    return user, password


def use_key(page) -> None:
    page.click("#use-security-key")
    # A selector, not wait_for_function: the page's CSP forbids the eval that polling would need.
    page.wait_for_selector("body[data-webauthn=done], body[data-webauthn=failed]", state="attached")


def test_register_a_security_key_and_see_it_named_on_the_account_page(mock_server, key_page):
    page, _, _ = key_page
    user, _ = sign_in_and_register_key(mock_server, page, name="Blue key", log_out=False)
    page.reload()  # the account page as served now, not the state the registration script left
    assert page.locator("[data-testid=security-key] .key-name").all_text_contents() == ["Blue key"]
    assert [c["name"] for c in mock_server.verifier.list_credentials(user)] == ["Blue key"]


def test_log_in_with_the_security_key(mock_server, key_page):
    page, _, _ = key_page
    user, password = sign_in_and_register_key(mock_server, page)
    login_with_password(page, mock_server.url, user, password)
    page.wait_for_url(re.compile(r"/2fa$"))
    page.click("#use-security-key")
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert page.text_content("#current-user") == user


def test_a_sign_counter_regression_is_rejected(mock_server, key_page):
    page, cdp, auth_id = key_page
    user, password = sign_in_and_register_key(mock_server, page)
    login_with_password(page, mock_server.url, user, password)
    page.click("#use-security-key")
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.click("#logout")
    # Clone the key as it was before its last use: same credential, lower signature counter.
    [cred] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": auth_id})["credentials"]
    assert cred["signCount"] >= 1
    cdp.send("WebAuthn.removeCredential", {"authenticatorId": auth_id, "credentialId": cred["credentialId"]})
    cdp.send("WebAuthn.addCredential", {"authenticatorId": auth_id, "credential": {**cred, "signCount": 0}})
    login_with_password(page, mock_server.url, user, password)
    page.wait_for_url(re.compile(r"/2fa$"))
    use_key(page)
    assert page.get_attribute("body", "data-webauthn") == "failed"
    assert page.text_content("#webauthn-error").strip()
    assert page.url.endswith("/2fa")


def test_a_removed_key_no_longer_logs_in(mock_server, key_page, browser):
    page, _, _ = key_page
    user, password = sign_in_and_register_key(mock_server, page)
    # Sign in again (TOTP, next step's code) to reach the account page and remove the key.
    totp = mock_server.totp_of(user)
    login_with_password(page, mock_server.url, user, password)
    page.fill("#otp-code", mock_server.code(totp, steps=1))
    page.click("#otp-submit")
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.goto(f"{mock_server.url}/account")
    page.click("[data-testid=key-remove]")
    page.wait_for_selector("#no-keys")
    assert mock_server.verifier.list_credentials(user) == []
    page.click("#logout")
    login_with_password(page, mock_server.url, user, password)
    use_key(page)
    assert page.get_attribute("body", "data-webauthn") == "failed"
    assert page.url.endswith("/2fa")


def test_a_key_can_be_renamed_on_the_account_page(mock_server, key_page):
    page, _, _ = key_page
    user, password = sign_in_and_register_key(mock_server, page, name="Old name")
    login_with_password(page, mock_server.url, user, password)
    page.click("#use-security-key")
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.goto(f"{mock_server.url}/account")
    page.fill("[data-testid=key-rename-name]", "Desk key")
    page.click("[data-testid=key-rename]")
    page.wait_for_url(re.compile(r"/account$"))
    assert [c["name"] for c in mock_server.verifier.list_credentials(user)] == ["Desk key"]
