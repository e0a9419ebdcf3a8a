"""The mock tracker's login flow in headless Chromium against the real verifier."""

from __future__ import annotations

import re

import pytest

from tests.mock.support import login_with_password

pytestmark = pytest.mark.browser


def test_login_with_totp_reaches_the_dashboard(mock_server, page):
    user, password = mock_server.new_user("totp")
    totp = mock_server.enrol_totp(user)
    login_with_password(page, mock_server.url, user, password)
    page.wait_for_url(re.compile(r"/2fa$"))
    assert page.get_attribute("#otp-code", "autocomplete") == "one-time-code"
    page.fill("#otp-code", mock_server.code(totp))
    page.click("#otp-submit")
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert page.text_content("#current-user") == user


def test_wrong_password_stays_on_the_login_page_with_an_error(mock_server, page):
    user, _ = mock_server.new_user("wrongpw")
    login_with_password(page, mock_server.url, user, "not the password")
    assert "Wrong username or password" in page.text_content("#login-error")
    assert page.url.endswith("/login")


def test_wrong_totp_code_is_refused_with_a_message(mock_server, page):
    user, password = mock_server.new_user("badcode")
    totp = mock_server.enrol_totp(user)
    login_with_password(page, mock_server.url, user, password)
    good = mock_server.code(totp)
    page.fill("#otp-code", "000000" if good != "000000" else "111111")
    page.click("#otp-submit")
    assert "not valid" in page.text_content("#otp-error")
    assert page.url.endswith("/2fa")


def test_a_used_totp_code_is_refused_on_the_next_login(mock_server, browser):
    user, password = mock_server.new_user("replay")
    totp = mock_server.enrol_totp(user)
    code = mock_server.code(totp)
    for attempt in range(2):
        context = browser.new_context()
        page = context.new_page()
        login_with_password(page, mock_server.url, user, password)
        page.fill("#otp-code", code)
        page.click("#otp-submit")
        if attempt == 0:
            page.wait_for_url(re.compile(r"/dashboard$"))
        else:
            assert "already been used" in page.text_content("#otp-error")
        context.close()


def test_login_with_a_backup_code(mock_server, page):
    user, password = mock_server.new_user("backup")
    mock_server.enrol_totp(user)
    codes = mock_server.verifier.generate_backup_codes(user)
    login_with_password(page, mock_server.url, user, password)
    page.click("#use-backup-code")
    page.fill("#backup-code", codes[0])
    page.click("#backup-submit")
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert mock_server.verifier.user_status(user)["backup_codes_left"] == len(codes) - 1


def test_a_backup_code_works_only_once(mock_server, browser):
    user, password = mock_server.new_user("backuponce")
    mock_server.enrol_totp(user)
    code = mock_server.verifier.generate_backup_codes(user)[0]
    for attempt in range(2):
        context = browser.new_context()
        page = context.new_page()
        login_with_password(page, mock_server.url, user, password)
        page.click("#use-backup-code")
        page.fill("#backup-code", code)
        page.click("#backup-submit")
        if attempt == 0:
            page.wait_for_url(re.compile(r"/dashboard$"))
        else:
            assert page.text_content("#backup-error").strip()
            assert page.url.endswith("/2fa/backup")
        context.close()


def test_repeated_wrong_codes_lock_the_account_with_a_clear_message(mock_server, page):
    user, password = mock_server.new_user("lockout")
    totp = mock_server.enrol_totp(user)
    login_with_password(page, mock_server.url, user, password)
    good = mock_server.code(totp)
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(100):  # NIST SP 800-63B: never more than 100 consecutive failures
        page.fill("#otp-code", wrong)
        page.click("#otp-submit")
        if "locked" in page.text_content("#otp-error"):
            break
    message = page.text_content("#otp-error")
    assert "temporarily locked" in message and "Try again in" in message
    # While locked, even the right code is refused.
    page.fill("#otp-code", good)
    page.click("#otp-submit")
    assert "locked" in page.text_content("#otp-error")
    assert page.url.endswith("/2fa")


def test_remember_device_skips_the_second_factor_next_time(mock_server, browser, policy):
    policy(remember_days=30)
    user, password = mock_server.new_user("remember")
    totp = mock_server.enrol_totp(user)
    context = browser.new_context()
    page = context.new_page()
    login_with_password(page, mock_server.url, user, password)
    page.fill("#otp-code", mock_server.code(totp))
    page.check("#remember-device")
    page.click("#otp-submit")
    page.wait_for_url(re.compile(r"/dashboard$"))
    device = [c for c in context.cookies() if c["name"] == "jibra_device"]
    assert device and device[0]["httpOnly"]
    page.click("#logout")
    page.wait_for_url(re.compile(r"/login$"))
    login_with_password(page, mock_server.url, user, password)
    page.wait_for_url(re.compile(r"/dashboard$"))
    context.close()


def test_without_remember_device_the_second_factor_is_asked_again(mock_server, browser, policy):
    policy(remember_days=30)
    user, password = mock_server.new_user("noremember")
    totp = mock_server.enrol_totp(user)
    context = browser.new_context()
    page = context.new_page()
    login_with_password(page, mock_server.url, user, password)
    page.fill("#otp-code", mock_server.code(totp))
    page.click("#otp-submit")
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.click("#logout")
    login_with_password(page, mock_server.url, user, password)
    page.wait_for_url(re.compile(r"/2fa$"))
    context.close()


def test_revoked_devices_are_asked_for_the_second_factor_again(mock_server, browser, policy):
    policy(remember_days=30)
    user, password = mock_server.new_user("revoke")
    totp = mock_server.enrol_totp(user)
    context = browser.new_context()
    page = context.new_page()
    login_with_password(page, mock_server.url, user, password)
    page.fill("#otp-code", mock_server.code(totp))
    page.check("#remember-device")
    page.click("#otp-submit")
    page.wait_for_url(re.compile(r"/dashboard$"))
    mock_server.verifier.revoke_devices(user)
    page.click("#logout")
    login_with_password(page, mock_server.url, user, password)
    page.wait_for_url(re.compile(r"/2fa$"))
    context.close()


def test_ip_allowlist_skips_the_second_factor(mock_server, page, policy):
    policy(ip_allowlist=["127.0.0.0/8", "::1/128"])
    user, password = mock_server.new_user("allow")
    mock_server.enrol_totp(user)
    login_with_password(page, mock_server.url, user, password)
    page.wait_for_url(re.compile(r"/dashboard$"))


def test_outside_the_ip_allowlist_the_second_factor_is_asked(mock_server, page, policy):
    policy(ip_allowlist=["192.0.2.0/24"])
    user, password = mock_server.new_user("notallowed")
    mock_server.enrol_totp(user)
    login_with_password(page, mock_server.url, user, password)
    page.wait_for_url(re.compile(r"/2fa$"))


def test_first_login_without_a_factor_enrols_totp(mock_server, page, policy):
    policy(mode="all")
    user, password = mock_server.new_user("newcomer")
    login_with_password(page, mock_server.url, user, password)
    page.wait_for_url(re.compile(r"/enrol$"))
    assert page.get_attribute("#totp-qr", "src").startswith("data:image/svg+xml;base64,")
    uri = page.text_content("#totp-uri")
    assert uri.startswith("otpauth://totp/")
    import pyotp

    totp = pyotp.TOTP(page.text_content("#totp-secret").strip())
    page.fill("#enrol-code", mock_server.code(totp))
    page.click("#enrol-submit")
    page.wait_for_url(re.compile(r"/backup-codes$"))
    assert page.locator("#backup-codes li").count() == 10
    page.click("#backup-codes-continue")
    page.wait_for_url(re.compile(r"/dashboard$"))
    assert mock_server.verifier.user_status(user)["totp"] is True


def wrong_code_for(mock_server, totp) -> str:
    """A well-formed 6-digit code that none of the steps in the verifier's ±1 window produces."""
    valid = {mock_server.code(totp, steps) for steps in (-2, -1, 0, 1, 2)}  # ±2: a step may pass meanwhile
    return next(c for c in (f"{(int(min(valid)) + k) % 10**6:06d}" for k in range(1, 12)) if c not in valid)


def test_first_login_enrolment_refuses_a_wrong_code(mock_server, page, policy):
    import pyotp

    policy(mode="all")
    user, password = mock_server.new_user("newcomerbad")
    login_with_password(page, mock_server.url, user, password)
    page.wait_for_url(re.compile(r"/enrol$"))
    totp = pyotp.TOTP(page.text_content("#totp-secret").strip())
    page.fill("#enrol-code", wrong_code_for(mock_server, totp))  # passes the format check: the verifier decides
    page.click("#enrol-submit")
    assert "That code is not valid" in page.text_content("#enrol-error")
    assert page.url.endswith("/enrol")
    assert mock_server.verifier.user_status(user)["totp"] is False


def test_half_finished_login_cannot_open_the_dashboard(mock_server, page):
    user, password = mock_server.new_user("halfway")
    mock_server.enrol_totp(user)
    login_with_password(page, mock_server.url, user, password)
    page.wait_for_url(re.compile(r"/2fa$"))
    page.goto(f"{mock_server.url}/dashboard")
    assert page.url.endswith("/2fa")


def test_the_lockout_lifts_after_the_back_off(mock_server, page):
    user, password = mock_server.new_user("backoff")
    totp = mock_server.enrol_totp(user)
    login_with_password(page, mock_server.url, user, password)
    wrong = "000000" if mock_server.code(totp) != "000000" else "111111"
    for _ in range(100):
        page.fill("#otp-code", wrong)
        page.click("#otp-submit")
        if "locked" in page.text_content("#otp-error"):
            break
    retry = int(re.search(r"Try again in (\d+) seconds", page.text_content("#otp-error")).group(1))
    mock_server.clock.offset += retry + 1  # the verifier's clock, not the test's: no sleeping
    page.fill("#otp-code", mock_server.code(totp))
    page.click("#otp-submit")
    page.wait_for_url(re.compile(r"/dashboard$"))
