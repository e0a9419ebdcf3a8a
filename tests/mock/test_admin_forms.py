"""Admin forms over plain HTTP: input the verifier refuses is told back on the page and changes nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.mock.support import csrf_of, sign_in_over_http


@pytest.fixture
def admin_client(mock_server):
    with httpx.Client(base_url=mock_server.url, follow_redirects=False) as client:
        sign_in_over_http(mock_server, client, groups=("jira-administrators",))
        yield client


def test_a_policy_the_verifier_refuses_is_shown_on_the_admin_page_and_changes_nothing(mock_server, admin_client):
    before = mock_server.verifier.get_policy()
    token = csrf_of(admin_client.get("/admin").text)
    r = admin_client.post("/admin/policy", data={"mode": "all", "ip_allowlist": "10.0.0.0/33", "remember_days": "0",
                                                 "csrf_token": token})
    assert r.headers["location"] == "/admin"
    assert "not an IPv4 or IPv6 network: &#x27;10.0.0.0/33&#x27;" in admin_client.get("/admin").text
    assert mock_server.verifier.get_policy() == before


@pytest.mark.parametrize(("field", "value", "shown"), [
    ("totp_digits", "9", "totp_digits must be a whole number from 6 to 8, got 9"),
    ("totp_period", "5", "totp_period must be a whole number from 15 to 300 seconds, got 5"),
    ("totp_algorithm", "MD5", "totp_algorithm must be one of SHA1, SHA256, SHA512, got &#x27;MD5&#x27;"),
    ("totp_window", "eleven", "Policy not saved: Accepted window must be a whole number, got &#x27;eleven&#x27;"),
])
def test_a_totp_setting_out_of_range_is_shown_with_its_range_and_changes_nothing(mock_server, admin_client, field,
                                                                                 value, shown):
    before = mock_server.verifier.get_policy()
    token = csrf_of(admin_client.get("/admin").text)
    r = admin_client.post("/admin/policy", data={"mode": before.mode, "remember_days": "3", field: value,
                                                 "csrf_token": token})
    assert r.headers["location"] == "/admin"
    assert shown in admin_client.get("/admin").text
    assert mock_server.verifier.get_policy() == before


def test_an_emptied_issuer_field_goes_back_to_the_trackers_name(mock_server, admin_client, policy):
    policy(issuer="Acme Jira")
    token = csrf_of(admin_client.get("/admin").text)
    admin_client.post("/admin/policy", data={"mode": "all", "remember_days": "0", "totp_digits": "6", "issuer": "",
                                             "csrf_token": token})
    assert mock_server.verifier.get_policy().issuer == ""
    assert "Policy saved." in admin_client.get("/admin").text


def test_an_exclusion_with_a_malformed_date_is_shown_and_changes_nothing(mock_server, admin_client):
    user, _ = mock_server.new_user("nodate")
    token = csrf_of(admin_client.get("/admin").text)
    r = admin_client.post("/admin/exclude", data={"username": user, "until": "31/12/2099", "csrf_token": token})
    assert r.headers["location"] == "/admin"
    assert "Exclusion not saved: Invalid isoformat string" in admin_client.get("/admin").text
    assert mock_server.verifier.user_status(user).excluded_until is None


def test_a_user_enrolled_with_8_digits_and_60_seconds_signs_in_with_such_a_code(mock_server, policy):
    import pyotp

    policy(totp_digits=8, totp_period=60, totp_algorithm="SHA256")
    user, password = mock_server.new_user("eight")
    app = pyotp.parse_uri(mock_server.verifier.totp_enroll_begin(user).uri)
    # The previous step's code confirms (window 1), so the current one is still unused for the login.
    assert mock_server.verifier.totp_enroll_confirm(user, app.at(mock_server.clock() - 60), "127.0.0.1", "t").ok
    with httpx.Client(base_url=mock_server.url, follow_redirects=False) as client:
        token = csrf_of(client.get("/login").text)
        r = client.post("/login", data={"username": user, "password": password, "csrf_token": token})
        assert r.headers["location"] == "/2fa"
        token = csrf_of(client.get("/2fa").text)
        code = app.at(mock_server.clock())
        assert len(code) == 8
        assert client.post("/2fa", data={"code": code, "csrf_token": token}).headers["location"] == "/dashboard"

