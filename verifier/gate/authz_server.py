"""The forward-auth check on a port of its own: HTTP/1.1 parsed by httptools, answered from the protocol.

The check runs on every proxied request, and behind uvicorn's ASGI machinery it cost about 40 µs of CPU
before it did anything (a task, the scope, the two send messages per request; measured with a do-nothing
app). This edge serves only ``/api/authz/auth-request`` and ``/api/authz/forward-auth``: httptools parses
(the same parser uvicorn uses), :meth:`verifier.gate.authz.Authz.check` decides, and the answer is one
write. On SQLite the check runs inline (a read takes microseconds); on PostgreSQL in the default executor,
one request of a connection at a time, so answers keep their order. The portal (and the same two paths,
through ASGI) stay on uvicorn's port; each worker process of ``gate serve`` listens here too
(``SO_REUSEPORT``: the kernel spreads the proxy's connections over them).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import functools
import logging
from http import HTTPStatus
from typing import Any

import httptools

from .authz import AUTHZ_PATHS, BASE_HEADERS, WANTED, Answer, Authz

log = logging.getLogger("tracker2fa.gate")
MAX_REQUEST_BYTES = 64 * 1024  # a forward-auth request is headers only; anything bigger is refused (431)
CHECK_THREADS = 4  # per worker process: enough to overlap PostgreSQL round trips on a few cores
_HEAD = b"".join(b"%s: %s\r\n" % pair for pair in BASE_HEADERS)
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}


@functools.cache
def _checkers() -> concurrent.futures.ThreadPoolExecutor:
    """The threads that run checks against PostgreSQL: few, so each keeps one database connection
    (verifier/store/postgres.py, ``read_row``) whatever the machine's size."""
    return concurrent.futures.ThreadPoolExecutor(max_workers=CHECK_THREADS, thread_name_prefix="gate-authz")


def response_bytes(status: int, extra: list[tuple[bytes, bytes]], keep_alive: bool) -> bytes:
    """The whole answer: status line, the base and ``extra`` headers, no body."""
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"")), _HEAD]
    parts += [b"%s: %s\r\n" % pair for pair in extra]
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


class AuthzProtocol(asyncio.Protocol):
    """One connection from the proxy (kept alive: nginx's ``keepalive``, Caddy's and Traefik's pools)."""

    def __init__(self, authz: Authz) -> None:
        self.authz = authz
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer: str | None = None
        self.url = b""
        self.headers: dict[bytes, str] = {}
        self.pending_bytes = 0
        self.queue: collections.deque[tuple[str, str, dict[bytes, str], bool]] = collections.deque()
        self.busy = False  # a check is running in the executor (PostgreSQL)

    # ---- asyncio.Protocol ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peername = transport.get_extra_info("peername")
        self.peer = peername[0] if peername else None

    def data_received(self, data: bytes) -> None:
        self.pending_bytes += len(data)
        if self.pending_bytes > MAX_REQUEST_BYTES:
            self._fail(431)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400)
        except httptools.HttpParserError:
            self._fail(400)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    # ---- httptools callbacks -------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = {}

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name in WANTED and name not in self.headers:
            self.headers[name] = value.decode("latin-1")

    def on_message_complete(self) -> None:
        self.pending_bytes = 0
        path = self.url.partition(b"?")[0].decode("latin-1")
        method = self.parser.get_method().decode("latin-1")
        self.queue.append((path, method, self.headers, self.parser.should_keep_alive()))
        self._next()

    # ---- answers -------------------------------------------------------------------------------------
    def _next(self) -> None:
        while self.queue and not self.busy and self.transport is not None:
            path, method, headers, keep_alive = self.queue.popleft()
            if path not in AUTHZ_PATHS:
                self._write((404, []), keep_alive)
            elif self.authz.inline:
                self._write(self.authz.check(path, method, self.peer, headers), keep_alive)
            else:
                self.busy = True
                self.transport.pause_reading()
                future = asyncio.get_running_loop().run_in_executor(_checkers(), self.authz.check, path, method,
                                                                    self.peer, headers)
                future.add_done_callback(lambda done, keep=keep_alive: self._checked(done, keep))

    def _checked(self, done: asyncio.Future[Answer], keep_alive: bool) -> None:
        self.busy = False
        if done.exception() is not None:
            log.error("forward-auth check failed: %s", type(done.exception()).__name__)
            self._fail(500)
            return
        self._write(done.result(), keep_alive)
        if self.transport is not None:
            self.transport.resume_reading()
            self._next()

    def _write(self, answer: Answer, keep_alive: bool) -> None:
        if self.transport is None:
            return
        status, extra = answer
        self.transport.write(response_bytes(status, extra, keep_alive))
        if not keep_alive:
            self.transport.close()
            self.transport = None

    def _fail(self, status: int) -> None:
        if self.transport is not None:
            self.transport.write(response_bytes(status, [], False))
            self.transport.close()
            self.transport = None
        self.queue.clear()


async def start_authz_server(authz: Authz, host: str, port: int, **kwargs: Any) -> asyncio.Server:
    """Listen for forward-auth requests (``SO_REUSEPORT``: every worker process of ``gate serve`` binds it)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: AuthzProtocol(authz), host, port, reuse_port=True, backlog=2048,
                                    **kwargs)
