"""Account and admin pages of the mock tracker in headless Chromium."""

from __future__ import annotations

import re

import pyotp
import pytest

from tests.mock.support import login_with_password

pytestmark = pytest.mark.browser


def sign_in(mock_server, page, user: str, password: str, totp: pyotp.TOTP, steps: int = 0) -> None:
    login_with_password(page, mock_server.url, user, password)
    page.fill("#otp-code", mock_server.code(totp, steps))
    page.click("#otp-submit")
    page.wait_for_url(re.compile(r"/dashboard$"))


def test_account_page_regenerates_backup_codes_and_the_old_ones_stop_working(mock_server, page):
    user, password = mock_server.new_user("regen")
    totp = mock_server.enrol_totp(user)
    old = mock_server.verifier.generate_backup_codes(user)
    sign_in(mock_server, page, user, password, totp)
    page.goto(f"{mock_server.url}/account")
    page.click("#regenerate-backup-codes")
    page.wait_for_url(re.compile(r"/backup-codes$"))
    new = [c.strip() for c in page.locator("#backup-codes li").all_text_contents()]
    assert len(new) == 10 and not set(new) & set(old)
    assert not mock_server.verifier.verify_backup_code(user, old[0], "127.0.0.1", "pytest").ok


def test_backup_codes_are_shown_only_once(mock_server, page):
    user, password = mock_server.new_user("once")
    totp = mock_server.enrol_totp(user)
    sign_in(mock_server, page, user, password, totp)
    page.goto(f"{mock_server.url}/account")
    page.click("#regenerate-backup-codes")
    page.wait_for_url(re.compile(r"/backup-codes$"))
    page.goto(f"{mock_server.url}/backup-codes")
    assert not page.url.endswith("/backup-codes")


def test_account_page_enrols_the_authenticator_app_with_a_first_code(mock_server, page, policy):
    policy(ip_allowlist=["127.0.0.0/8", "::1/128"])  # a user without any factor can still sign in
    user, password = mock_server.new_user("appenrol")
    login_with_password(page, mock_server.url, user, password)
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.goto(f"{mock_server.url}/account")
    assert page.get_attribute("#totp-status", "data-enrolled") == "false"
    page.click("#totp-enrol")
    totp = pyotp.TOTP(page.text_content("#totp-secret").strip())
    assert page.text_content("#totp-uri").startswith("otpauth://totp/")
    page.fill("#enrol-code", mock_server.code(totp))
    page.click("#enrol-submit")
    page.wait_for_url(re.compile(r"/account$"))
    assert page.get_attribute("#totp-status", "data-enrolled") == "true"


def test_non_admin_sees_no_admin_link_and_the_admin_page_explains_and_leads_back(mock_server, page):
    user, password = mock_server.new_user("plain")
    totp = mock_server.enrol_totp(user)
    sign_in(mock_server, page, user, password, totp)
    assert page.locator("#nav-account").is_visible() and page.locator("#nav-admin").count() == 0
    response = page.goto(f"{mock_server.url}/admin")
    assert response.status == 403
    assert page.text_content("#forbidden") == "Administrators only"
    assert "jira-administrators" in page.text_content("#forbidden-reason")
    page.click("#forbidden-back")
    page.wait_for_url(re.compile(r"/dashboard$"))


def test_admin_saves_the_policy_from_the_admin_page(mock_server, page, policy):
    admin, password = mock_server.new_user("admin", groups=("jira-administrators",))
    totp = mock_server.enrol_totp(admin)
    sign_in(mock_server, page, admin, password, totp)
    page.goto(f"{mock_server.url}/admin")
    page.select_option("#policy-mode", "groups")
    page.fill("#policy-groups", "developers, ops")
    page.fill("#policy-ip-allowlist", "10.0.0.0/8\n2001:db8::/32")
    page.fill("#policy-remember-days", "7")
    page.click("#policy-save")
    page.wait_for_url(re.compile(r"/admin$"))
    saved = mock_server.verifier.get_policy().to_dict()
    assert saved["mode"] == "groups"
    assert list(saved["groups"]) == ["developers", "ops"]
    assert [str(n) for n in saved["ip_allowlist"]] == ["10.0.0.0/8", "2001:db8::/32"]
    assert saved["remember_days"] == 7


def test_admin_page_shows_and_saves_the_totp_settings(mock_server, page, policy):
    policy(issuer="Jibra")
    admin, password = mock_server.new_user("admin", groups=("jira-administrators",))
    sign_in(mock_server, page, admin, password, mock_server.enrol_totp(admin))
    page.goto(f"{mock_server.url}/admin")
    shown = [page.input_value(f"#policy-{name}") for name in ("totp-digits", "totp-period", "totp-algorithm",
                                                               "totp-window", "issuer")]
    assert shown == ["6", "30", "SHA1", "1", "Jibra"]
    page.fill("#policy-totp-digits", "8")
    page.fill("#policy-totp-period", "60")
    page.select_option("#policy-totp-algorithm", "SHA256")
    page.fill("#policy-totp-window", "2")
    page.fill("#policy-issuer", "Acme Jira")
    page.click("#policy-save")
    page.wait_for_url(re.compile(r"/admin$"))
    assert page.text_content("#flash") == "Policy saved."
    saved = mock_server.verifier.get_policy()
    assert (saved.totp_digits, saved.totp_period, saved.totp_algorithm, saved.totp_window, saved.issuer) == \
        (8, 60, "SHA256", 2, "Acme Jira")
    assert page.input_value("#policy-totp-digits") == "8" and page.input_value("#policy-issuer") == "Acme Jira"


def test_admin_activity_feed_shows_a_login_live(mock_server, browser, page):
    admin, password = mock_server.new_user("watcher", groups=("jira-administrators",))
    sign_in(mock_server, page, admin, password, mock_server.enrol_totp(admin))
    page.goto(f"{mock_server.url}/admin")
    page.wait_for_selector("body[data-feed=live]")
    before = page.locator("#activity-feed li").count()
    user, user_password = mock_server.new_user("watched")
    totp = mock_server.enrol_totp(user)
    other = browser.new_context().new_page()
    sign_in(mock_server, other, user, user_password, totp)
    page.locator("#activity-feed li").nth(before).wait_for(state="attached")  # CSP: no wait_for_function
    assert user in page.locator("#activity-feed li").first.text_content()
    other.context.close()


def test_account_page_removes_the_authenticator_app(mock_server, page):
    user, password = mock_server.new_user("appremove")
    totp = mock_server.enrol_totp(user)
    sign_in(mock_server, page, user, password, totp)
    page.goto(f"{mock_server.url}/account")
    page.click("#totp-remove")
    page.wait_for_url(re.compile(r"/account$"))
    assert page.get_attribute("#totp-status", "data-enrolled") == "false"
    assert mock_server.verifier.user_status(user)["totp"] is False


def test_admin_resets_a_users_factors_from_the_users_table(mock_server, page):
    admin, password = mock_server.new_user("resetter", groups=("jira-administrators",))
    victim, _ = mock_server.new_user("lostphone")
    mock_server.enrol_totp(victim)
    mock_server.verifier.generate_backup_codes(victim)
    sign_in(mock_server, page, admin, password, mock_server.enrol_totp(admin))
    page.goto(f"{mock_server.url}/admin")
    page.click(f"tr[data-username={victim}] [data-testid=user-reset]")
    page.wait_for_url(re.compile(r"/admin$"))
    status = mock_server.verifier.user_status(victim)
    assert status["totp"] is False and status["backup_codes_left"] == 0


def test_admin_excluding_an_unknown_user_gets_a_clear_message(mock_server, page):
    admin, password = mock_server.new_user("excluder", groups=("jira-administrators",))
    sign_in(mock_server, page, admin, password, mock_server.enrol_totp(admin))
    page.goto(f"{mock_server.url}/admin")
    page.fill("#exclude-username", "nobody-by-this-name")
    page.fill("#exclude-until", "2030-01-31")
    page.click("#exclude-submit")
    page.wait_for_url(re.compile(r"/admin$"))
    assert page.text_content("#flash").strip()
    assert "excluded" not in page.text_content("#flash")


def test_admin_excludes_a_user_until_a_date_and_they_skip_the_second_factor(mock_server, browser, page):
    admin, password = mock_server.new_user("excluder", groups=("jira-administrators",))
    sign_in(mock_server, page, admin, password, mock_server.enrol_totp(admin))
    user, user_password = mock_server.new_user("onholiday")
    mock_server.enrol_totp(user)
    page.goto(f"{mock_server.url}/admin")
    page.fill("#exclude-username", user)
    page.fill("#exclude-until", "2099-12-31")
    page.click("#exclude-submit")
    page.wait_for_url(re.compile(r"/admin$"))
    assert "excluded" in page.text_content("#flash")
    other = browser.new_context().new_page()
    login_with_password(other, mock_server.url, user, user_password)
    other.wait_for_url(re.compile(r"/dashboard$"))
    other.context.close()


def test_admin_unlocks_a_locked_user(mock_server, page):
    admin, password = mock_server.new_user("unlocker", groups=("jira-administrators",))
    sign_in(mock_server, page, admin, password, mock_server.enrol_totp(admin))
    user, _ = mock_server.new_user("locked")
    totp = mock_server.enrol_totp(user)
    wrong = "000000" if mock_server.code(totp) != "000000" else "111111"
    for _ in range(100):  # from another IP, so this test's own client address stays clean
        if mock_server.verifier.verify_totp(user, wrong, "192.0.2.7", "pytest").reason == "locked":
            break
    assert mock_server.verifier.user_status(user)["locked_until"]
    page.goto(f"{mock_server.url}/admin")
    page.click(f"tr[data-username={user}] [data-testid=user-unlock]")
    page.wait_for_url(re.compile(r"/admin$"))
    assert mock_server.verifier.user_status(user)["locked_until"] is None
