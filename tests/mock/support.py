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
