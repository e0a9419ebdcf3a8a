"""The mock tracker's HTTP edge without a browser: localhost rule, headers, cookies, CSRF."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
def client(mock_server):
    with httpx.Client(base_url=mock_server.url, follow_redirects=False) as c:
        yield c


def test_opened_by_ip_address_the_page_says_to_use_localhost(mock_server):
    r = httpx.get(f"http://127.0.0.1:{mock_server.port}/login")
    assert r.status_code == 421
    assert f"http://localhost:{mock_server.port}/login" in r.text
    assert "security keys" in r.text


def test_pages_carry_security_headers(client):
    r = client.get("/login")
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"


def test_session_cookie_is_httponly_and_samesite(client):
    r = client.get("/login")
    cookie = r.headers["set-cookie"].lower()
    assert "jibra_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http on localhost; Secure is added on https


def test_login_without_the_csrf_token_is_refused(mock_server, client):
    user, password = mock_server.new_user("csrf")
    client.get("/login")
    r = client.post("/login", data={"username": user, "password": password})
    assert r.status_code == 403
    assert "security token" in r.text


def test_login_with_a_foreign_csrf_token_is_refused(mock_server, client):
    user, password = mock_server.new_user("csrf2")
    client.get("/login")
    r = client.post("/login", data={"username": user, "password": password, "csrf_token": "x" * 43})
    assert r.status_code == 403


def test_webauthn_begin_without_csrf_header_is_refused(client):
    client.get("/login")
    r = client.post("/2fa/webauthn/begin", json={})
    assert r.status_code == 403
    assert r.json()["reason"] == "csrf"


def test_overlong_username_gets_a_clear_error(client):
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = client.post("/login", data={"username": "u" * 500, "password": "p", "csrf_token": token})
    assert r.status_code == 400
    assert "Enter your username and password" in r.text


def test_a_stale_half_finished_login_starts_over(mock_server):
    from tests.mock.support import free_port, start_server
    from verifier.mock import create_mock_app

    user, password = mock_server.new_user("stale")
    mock_server.enrol_totp(user)
    port = free_port()
    server, thread = start_server(create_mock_app(mock_server.verifier, pending_login_seconds=0), port)
    try:
        with httpx.Client(base_url=f"http://localhost:{port}") as client:
            token = client.get("/login").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            r = client.post("/login", data={"username": user, "password": password, "csrf_token": token})
            assert r.headers["location"] == "/2fa"
            r = client.get("/2fa", follow_redirects=True)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert r.url.path == "/login"
    assert "took too long" in r.text
