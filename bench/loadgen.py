"""A small closed-loop HTTP/1.1 load generator (asyncio, raw sockets, keep-alive).

Every system under comparison is driven by this same client: ``concurrency`` connections, each sending
the next prepared request as soon as the previous answer arrived. Requests are prepared up front as
bytes, so the client spends its time on the wire, not on building requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """What one load run measured."""

    requests: int
    seconds: float
    latencies: list[float] = field(repr=False)
    accepted: int
    rejected: int
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def http_request(method: str, path: str, body: bytes = b"", *, host: str = "localhost",
                 content_type: str = "application/json", headers: dict[str, str] | None = None) -> bytes:
    """One HTTP/1.1 keep-alive request as bytes."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive",
             f"Content-Length: {len(body)}"]
    if body:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status, body, _ = await read_response(reader)
    return status, body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, server closes the connection) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    chunked = close = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    if not chunked:
        return status, await reader.readexactly(length), close
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body, close
        body += chunk[:-2]


async def _run(addresses: Sequence[tuple[str, int]], requests: Sequence[bytes], concurrency: int,
               accepted: Callable[[int, bytes], bool]) -> LoadResult:
    latencies: list[float] = []
    counts = {"accepted": 0, "rejected": 0, "errors": 0}
    next_index = 0

    async def worker(host: str, port: int) -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < len(requests):
                request = requests[next_index]
                next_index += 1
                t0 = time.perf_counter()
                answer = None
                for _attempt in range(2):  # a server may close an idle keep-alive connection: resend once
                    writer.write(request)
                    try:
                        answer = await read_response(reader)
                        break
                    except (asyncio.IncompleteReadError, ConnectionError):
                        writer.close()
                        reader, writer = await asyncio.open_connection(host, port)
                if answer is None:
                    counts["errors"] += 1
                    continue
                status, body, close = answer
                if close:  # e.g. gunicorn's sync workers answer one request per connection
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
                latencies.append(time.perf_counter() - t0)
                if status >= 500:
                    counts["errors"] += 1
                elif accepted(status, body):
                    counts["accepted"] += 1
                else:
                    counts["rejected"] += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    # Connections are spread round-robin over the addresses (one per server process).
    await asyncio.gather(*(worker(*addresses[i % len(addresses)]) for i in range(concurrency)))
    seconds = time.perf_counter() - t0
    return LoadResult(len(latencies), seconds, latencies, **counts)


def run_load(addresses: Sequence[tuple[str, int]], requests: Sequence[bytes], concurrency: int,
             accepted: Callable[[int, bytes], bool] = lambda status, body: status == 200) -> LoadResult:
    """Send every request once over ``concurrency`` keep-alive connections; return rate and latencies."""
    return asyncio.run(_run(addresses, requests, concurrency, accepted))
