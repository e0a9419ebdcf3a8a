"""The one dependency every mock page goes through (verifier/mock/visit.py): session, login state, admin
rights and CSRF token, checked in the order the page's refusals need. Over real HTTP, no browser."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.mock.support import csrf_of, sign_in_over_http


@pytest.fixture
def client(mock_server):
    with httpx.Client(base_url=mock_server.url, follow_redirects=False) as c:
        yield c


def test_a_signed_in_page_sends_a_visitor_without_a_session_to_login_before_reading_the_form(client):
    r = client.post("/account/totp/remove", data={"csrf_token": "not-the-token"})
    assert r.status_code == 303
    assert r.headers["location"] == "/login"


def test_a_page_of_another_login_step_redirects_to_where_the_login_stands(mock_server, client):
    user, password = mock_server.new_user("step")
    mock_server.enrol_totp(user)
    assert client.get("/enrol").headers["location"] == "/login"
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"username": user, "password": password, "csrf_token": token})
    assert client.get("/enrol").headers["location"] == "/2fa"


def test_a_stale_second_factor_form_is_sent_back_saying_it_expired(mock_server, client):
    user, password = mock_server.new_user("stale2fa")
    mock_server.enrol_totp(user)
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"username": user, "password": password, "csrf_token": token})
    # The session id and token changed at the password step: the login page's token is stale now.
    r = client.post("/2fa", data={"code": "123456", "csrf_token": token})
    assert r.status_code == 303
    assert "security token mismatch" in client.get(r.headers["location"], follow_redirects=True).text


def test_a_key_ceremony_from_a_page_of_another_login_state_is_409(client):
    token = csrf_of(client.get("/login").text)
    r = client.post("/2fa/webauthn/begin", json={}, headers={"X-CSRF-Token": token})
    assert r.status_code == 409
    assert r.json()["reason"] == "state"


def test_a_deeply_nested_key_response_is_a_clear_400_not_a_crash(mock_server, client):
    sign_in_over_http(mock_server, client)
    token = csrf_of(client.get("/account").text)
    r = client.post("/account/keys/complete", content=b"[" * 50_000,
                    headers={"X-CSRF-Token": token, "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["reason"] == "bad_request"


def test_an_admin_form_from_a_non_admin_is_refused_and_changes_nothing(mock_server, client):
    sign_in_over_http(mock_server, client)
    victim, _ = mock_server.new_user("victim")
    for _ in range(100):  # lock the victim from another address
        if mock_server.verifier.verify_totp(victim, "000000", "192.0.2.9", "pytest").reason == "locked":
            break
    token = csrf_of(client.get("/account").text)
    r = client.post("/admin/unlock", data={"username": victim, "csrf_token": token})
    assert r.status_code == 403
    assert "Administrators only" in r.text
    assert mock_server.verifier.user_status(victim)["locked_until"]


def feed_socket(mock_server, client: httpx.Client, origin: str):
    """The admin feed's WebSocket with this client's session cookie, opened from a page of ``origin``."""
    cookie = f"jibra_session={client.cookies['jibra_session']}"
    return connect(f"ws://localhost:{mock_server.port}/admin/ws", origin=origin,
                   additional_headers={"Cookie": cookie}, open_timeout=10)


def test_the_admin_feed_streams_a_new_audit_event_to_an_admin(mock_server, client):
    sign_in_over_http(mock_server, client, groups=("jira-administrators",))
    with feed_socket(mock_server, client, mock_server.url) as ws:
        newcomer, _ = mock_server.new_user("newcomer")
        event = json.loads(ws.recv(timeout=10))
    assert event["event"] == "user_created" and event["username"] == newcomer


def test_the_admin_feed_refuses_a_page_of_another_origin(mock_server, client):
    sign_in_over_http(mock_server, client, groups=("jira-administrators",))
    with pytest.raises(InvalidStatus) as refused, feed_socket(mock_server, client, "http://evil.test"):
        pass
    assert refused.value.response.status_code == 403  # closed before the handshake: no socket at all


def test_the_admin_feed_refuses_a_signed_in_non_admin(mock_server, client):
    sign_in_over_http(mock_server, client)
    with pytest.raises(InvalidStatus) as refused, feed_socket(mock_server, client, mock_server.url):
        pass
    assert refused.value.response.status_code == 403
