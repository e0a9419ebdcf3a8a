"""Mail on the mock tracker's pages, over plain HTTP: the outbox and a mail as its recipient reads it, users'
addresses and the mail settings on the admin page, a user's own notifications on the account page."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.mock.support import csrf_of, sign_in_over_http
from verifier.core.notices import INFORMATIONAL, SECURITY


@pytest.fixture(autouse=True)
def mail_on(mock_server):  # per test: the mock server is fresh after a failed test (tests/support/shared.py)
    mock_server.verifier.update_notice_settings(enabled=True, account_url=f"{mock_server.url}/account",
                                                contact="the Jibra admins")


@pytest.fixture
def admin_client(mock_server):
    with httpx.Client(base_url=mock_server.url, follow_redirects=False) as client:
        sign_in_over_http(mock_server, client, groups=("jira-administrators",))
        yield client


@pytest.fixture
def user_client(mock_server):
    with httpx.Client(base_url=mock_server.url, follow_redirects=False) as client:
        client.username = sign_in_over_http(mock_server, client)  # type: ignore[attr-defined]
        yield client


def post(client, path: str, data: dict) -> httpx.Response:
    page = "/admin" if path.startswith("/admin") else "/account"
    return client.post(path, data={**data, "csrf_token": csrf_of(client.get(page).text)})


def test_the_admin_page_shows_the_outbox_and_each_mail_as_its_recipient_reads_it(mock_server, admin_client):
    v = mock_server.verifier
    user, _ = mock_server.new_user("outboxed")
    v.set_email(user, f"{user}@example.com")
    codes = v.generate_backup_codes(user, actor=user, ip="192.0.2.33", user_agent="Firefox/140.0")
    page = admin_client.get("/admin").text
    row = re.search(rf'<tr data-testid="outbox-row" data-status="pending" data-kind="backup_codes_regenerated" '
                    rf'data-id="(\d+)">.*?{user}', page)
    assert row is not None and 'id="outbox-counts"' in page
    mail = admin_client.get(f"/admin/outbox/{row.group(1)}").text
    assert "New backup codes were created for your account" in mail and f"{user}@example.com" in mail
    assert "192.0.2.33" in mail and "Firefox/140.0" in mail
    assert not any(code in mail or code.replace("-", "") in mail for code in codes)


def test_a_mail_to_a_user_without_an_address_is_shown_as_not_sent_and_why(mock_server, admin_client):
    user, _ = mock_server.new_user("noaddress")
    mock_server.verifier.reset_user(user)
    mail_id = next(m.id for m in mock_server.verifier.outbox(username=user))
    page = admin_client.get(f"/admin/outbox/{mail_id}").text
    assert "Not sent" in page and "the user has no mail address" in page


def test_the_admin_sets_a_users_address_and_a_bad_one_is_refused_with_the_reason(mock_server, admin_client):
    user, _ = mock_server.new_user("addressed")
    r = post(admin_client, "/admin/email", {"username": user, "email": f"{user}@example.org"})
    assert r.headers["location"] == "/admin"
    page = admin_client.get("/admin").text
    assert f"Mail for {user} goes to {user}@example.org." in page
    assert re.search(rf'data-username="{user}".*?<td data-testid="user-email">{user}@example.org</td>', page, re.S)
    post(admin_client, "/admin/email", {"username": user, "email": "x@example.org\r\nBcc: evil@example.net"})
    assert "not a mail address" in admin_client.get("/admin").text
    assert mock_server.verifier.mail_prefs(user).email == f"{user}@example.org"


def test_the_admin_switches_a_notice_off_and_mail_off_and_on(mock_server, admin_client):
    v = mock_server.verifier
    sent = [k for k in (*SECURITY, *INFORMATIONAL) if k != "new_network"]
    post(admin_client, "/admin/notifications", {"enabled": "on", "sent": sent, "language": "de",
                                                "timezone": "Europe/Berlin", "reminder_days": "3",
                                                "account_url": f"{mock_server.url}/account", "contact": "IT"})
    settings = v.notice_settings()
    assert settings.enabled and settings.off == {"new_network"} and settings.language == "de"
    assert (settings.timezone, settings.reminder_days, settings.contact) == ("Europe/Berlin", 3, "IT")
    post(admin_client, "/admin/notifications", {"sent": sent, "language": "en", "timezone": "UTC"})
    assert not v.notice_settings().enabled
    post(admin_client, "/admin/notifications", {"enabled": "on", "sent": sent, "timezone": "Mars/Base"})
    assert "unknown time zone" in admin_client.get("/admin").text and not v.notice_settings().enabled
    v.update_notice_settings(enabled=True, off=[], language="en", timezone="UTC", contact="the Jibra admins")


def test_the_enrolment_deadline_is_set_on_the_policy_form(mock_server, admin_client, policy):
    post(admin_client, "/admin/policy", {"mode": "all", "remember_days": "0", "enrol_deadline": "2031-03-01"})
    deadline = mock_server.verifier.get_policy().enrol_deadline
    assert deadline == 1930175999.0  # 2031-03-01 23:59:59 UTC
    assert 'value="2031-03-01"' in admin_client.get("/admin").text
    post(admin_client, "/admin/policy", {"mode": "all", "remember_days": "0", "enrol_deadline": ""})
    assert mock_server.verifier.get_policy().enrol_deadline is None


def test_a_user_switches_informational_notices_off_and_security_ones_stay_on(mock_server, user_client):
    user = user_client.username
    mock_server.verifier.set_email(user, f"{user}@example.com")
    page = user_client.get("/account").text
    assert f"{user}@example.com" in page and 'data-testid="mail-prefs-form"' in page
    r = post(user_client, "/account/notifications", {"language": "de", "wanted": ["enrol_reminder"],
                                                     "off": list(SECURITY)})  # an extra field changes nothing
    assert r.headers["location"] == "/account"
    prefs = mock_server.verifier.mail_prefs(user)
    assert prefs.language == "de" and prefs.off == ["backup_codes_low", "policy_enforced"]
    assert "Security notices always go" in user_client.get("/account").text


def test_what_a_user_does_on_the_account_page_is_mailed_with_their_address(mock_server, user_client):
    user = user_client.username
    post(user_client, "/account/backup-codes", {})
    [mail] = [m for m in mock_server.verifier.outbox(username=user) if m.kind == "backup_codes_regenerated"]
    assert mail.params["ip"] == "127.0.0.1" and mail.params["user_agent"].startswith("python-httpx")
