"""Helpers shared by the mock-tracker tests (imported as tests.mock.support)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


def verifier_settings(port: int, *, server_key: bytes | None = None) -> Any:
    """Verifier settings for a mock served at http://localhost:PORT."""
    from verifier.mock.config import mock_settings

    return mock_settings(port, server_key=server_key)


def login_with_password(page: Any, base_url: str, username: str, password: str) -> None:
    """Fill and submit the login form."""
    page.goto(f"{base_url}/login")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(app, port: int) -> tuple[Any, threading.Thread]:
    """Serve ``app`` with uvicorn on 127.0.0.1:port in a daemon thread; returns (server, thread)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the mock tracker did not start")
        time.sleep(0.02)
    return server, thread


def csrf_of(html: str) -> str:
    """The page's CSRF token (the form field; the same value sits in <meta name=csrf-token>)."""
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def sign_in_over_http(mock_server: Any, client: Any, *, groups: tuple[str, ...] = ()) -> str:
    """A new user signs in with password then TOTP through ``client`` (httpx); returns the user's name."""
    user, password = mock_server.new_user("http", groups=groups)
    totp = mock_server.enrol_totp(user)
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"username": user, "password": password, "csrf_token": token})
    assert r.headers["location"] == "/2fa"
    token = csrf_of(client.get("/2fa").text)
    r = client.post("/2fa", data={"code": mock_server.code(totp), "csrf_token": token})
    assert r.headers["location"] == "/dashboard"
    return user
