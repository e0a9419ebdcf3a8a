"""The forward-auth listener (verifier/gate/authz_server.py) over real sockets: keep-alive, pipelined
requests answered in order, malformed and oversized requests refused, other paths 404, and the same answers
as the ASGI edge."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.core.sessions import Level
from verifier.gate.app import create_gate_app
from verifier.gate.authz_server import MAX_REQUEST_BYTES, start_authz_server
from verifier.gate.config import load_config

CONFIG = """\
[[domains]]
domain = "one.localhost"
portal = "http://auth.one.localhost:8000"
[access_control]
default_policy = "two_factor"
[[access_control.rules]]
domain = "app.one.localhost"
resources = ["^/public/"]
policy = "bypass"
"""


@pytest.fixture(scope="module", params=["inline", "executor"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """The listener with the check inline (SQLite) or in the executor, one request at a time (PostgreSQL)."""
    from verifier.store import open_store

    store = open_store(f"sqlite:///{Path(tmp_path_factory.mktemp('authz')) / 'gate.db'}")
    app = create_gate_app(load_config(CONFIG), store, server_key=secrets.token_bytes(32))
    verifier = app.context.verifiers["one.localhost"]
    verifier.create_user("alice", groups=("dev",))
    token = verifier.sessions.start("alice", "one.localhost", Level.TWO_FACTORS, "totp", app.context.config.timeouts,
                                    ip="192.0.2.1", user_agent="t")
    app.authz.inline = request.param == "inline"
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, object] = {}

    async def serve() -> None:
        holder["server"] = await start_authz_server(app.authz, "127.0.0.1", 0)
        started.set()

    thread = threading.Thread(target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True)
    thread.start()
    assert started.wait(10)
    port = holder["server"].sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    yield port, token
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    store.close()


def exchange(port: int, data: bytes, *, expect: int = 1, timeout: float = 10) -> list[bytes]:
    """Send ``data`` on one connection; read ``expect`` answers (or until the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        received = b""
        while received.count(b"\r\n\r\n") < expect:
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
    return [part for part in received.split(b"\r\n\r\n") if part]


def http_request(path: str, url: str, cookie: str = "", extra: str = "") -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: gate\r\nX-Original-URL: {url}\r\n"
            f"{'Cookie: tracker2fa_session=' + cookie + chr(13) + chr(10) if cookie else ''}{extra}\r\n").encode()


def test_a_live_session_gets_200_with_the_identity(server: tuple[int, str]) -> None:
    port, token = server
    (answer,) = exchange(port, http_request("/api/authz/auth-request", "http://app.one.localhost/x", token))
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nremote-user: alice" in answer


def test_pipelined_requests_on_one_connection_are_answered_in_order(server: tuple[int, str]) -> None:
    port, token = server
    data = (http_request("/api/authz/auth-request", "http://app.one.localhost/x", token)
            + http_request("/api/authz/auth-request", "http://app.one.localhost/x")
            + http_request("/api/authz/auth-request", "http://app.one.localhost/public/a"))
    answers = exchange(port, data, expect=3)
    assert [a.split(b"\r\n", 1)[0] for a in answers] == [b"HTTP/1.1 200 OK", b"HTTP/1.1 401 Unauthorized",
                                                        b"HTTP/1.1 200 OK"]
    assert b"location: http://auth.one.localhost:8000/?rd=" in answers[1]


def test_connection_close_is_honoured(server: tuple[int, str]) -> None:
    port, _ = server
    answers = exchange(port, http_request("/api/authz/auth-request", "http://app.one.localhost/public/a",
                                     extra="Connection: close\r\n") * 2, expect=2)
    assert len(answers) == 1 and b"\r\nconnection: close" in answers[0]


@pytest.mark.parametrize(("data", "status"), [
    (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", b"400"),
    (b"GET /api/authz/auth-request HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * MAX_REQUEST_BYTES + b"\r\n\r\n", b"431"),
    (b"GET /portal HTTP/1.1\r\nHost: x\r\n\r\n", b"404"),
    (b"GET /api/authz/auth-request HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),  # no target
])
def test_what_is_not_a_forward_auth_request_is_refused(server: tuple[int, str], data: bytes, status: bytes) -> None:
    answers = exchange(server[0], data)
    assert answers and answers[0].split(b" ")[1] == status


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=600))
def test_any_bytes_get_an_answer_or_a_closed_connection_never_a_hung_server(server: tuple[int, str],
                                                                            data: bytes) -> None:
    port, token = server
    with contextlib.suppress(ConnectionResetError, TimeoutError):  # e.g. a request still waiting for its body
        exchange(port, data + b"\r\n\r\n", timeout=1)
    (answer,) = exchange(port, http_request("/api/authz/auth-request", "http://app.one.localhost/x", token))
    assert answer.startswith(b"HTTP/1.1 200 OK")
