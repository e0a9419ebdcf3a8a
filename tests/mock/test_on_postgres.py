"""The main mock-tracker flows with the verifier on PostgreSQL (the other modules run on SQLite)."""

from __future__ import annotations

import re

import pytest

from tests.mock.support import login_with_password

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


def test_login_with_totp_on_postgres(mock_server_pg, page):
    user, password = mock_server_pg.new_user("pgtotp")
    totp = mock_server_pg.enrol_totp(user)
    login_with_password(page, mock_server_pg.url, user, password)
    page.fill("#otp-code", mock_server_pg.code(totp))
    page.click("#otp-submit")
    page.wait_for_url(re.compile(r"/dashboard$"))


def test_login_with_a_backup_code_on_postgres(mock_server_pg, page):
    user, password = mock_server_pg.new_user("pgbackup")
    mock_server_pg.enrol_totp(user)
    code = mock_server_pg.verifier.generate_backup_codes(user)[0]
    login_with_password(page, mock_server_pg.url, user, password)
    page.click("#use-backup-code")
    page.fill("#backup-code", code)
    page.click("#backup-submit")
    page.wait_for_url(re.compile(r"/dashboard$"))


def test_security_key_registers_and_logs_in_on_postgres(mock_server_pg, browser):
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": False, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    user, password = mock_server_pg.new_user("pgkey")
    totp = mock_server_pg.enrol_totp(user)
    login_with_password(page, mock_server_pg.url, user, password)
    page.fill("#otp-code", mock_server_pg.code(totp))
    page.click("#otp-submit")
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.goto(f"{mock_server_pg.url}/account")
    page.click("#register-key")
    page.wait_for_selector("[data-testid=security-key]")
    page.click("#logout")
    login_with_password(page, mock_server_pg.url, user, password)
    page.click("#use-security-key")
    page.wait_for_url(re.compile(r"/dashboard$"))
    context.close()
