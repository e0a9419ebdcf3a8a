"""Backpressure: a browser that sends faster than it reads fills its own pipe, not the host's memory.

A real host process gets 100,000 pipelined requests while nobody reads its stdout. Its memory is read from
/proc (a memory bound, not a timing assertion); then stdout is drained and every reply must arrive, in order.
"""

from __future__ import annotations

import contextlib
import fcntl
import signal
import struct
import termios
import threading
import time

from .conftest import REPLY_TIMEOUT, frame

REQUESTS = 100_000  # without backpressure the host grew by well over 100 MiB on these
GROWTH_LIMIT_KIB = 32 * 1024
F_GETPIPE_SZ = 1032  # Linux fcntl


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _pipe_nearly_full(fd: int) -> bool:
    waiting = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    return waiting >= fcntl.fcntl(fd, F_GETPIPE_SZ) - 4096  # a frame that does not fit waits for a whole page


def _wait_until_stalled_or_done(host, writer: threading.Thread) -> str:
    """Poll (no timing assertion: the deadline only turns a hang into a failure) until the host has either
    read everything we sent or stopped reading with both pipes full."""
    deadline = time.monotonic() + 10 * REPLY_TIMEOUT
    stdin_fd, stdout_fd = host.proc.stdin.fileno(), host.proc.stdout.fileno()
    while time.monotonic() < deadline:
        if not writer.is_alive():
            return "read everything"
        if _pipe_nearly_full(stdin_fd) and _pipe_nearly_full(stdout_fd):
            return "stopped reading"
        assert host.proc.poll() is None, host.stderr
        time.sleep(0.05)
    raise AssertionError("the host neither stopped reading nor read everything")


def test_a_host_whose_replies_are_not_read_stops_reading_and_stays_small(spawn_host):
    host = spawn_host(read_stdout=False)
    host.send({"id": 0, "method": "hello"})
    (length,) = struct.unpack("=I", host.proc.stdout.read(4))
    host.proc.stdout.read(length)  # the host is up and has served once: its baseline
    baseline = _status_kib(host.proc.pid, "VmRSS")

    flood = b"".join(frame({"id": i, "method": "hello"}) for i in range(1, REQUESTS + 1))
    writer = threading.Thread(target=host.send_raw, args=(flood,), daemon=True)
    writer.start()
    state = _wait_until_stalled_or_done(host, writer)
    stalled_growth = _status_kib(host.proc.pid, "VmRSS") - baseline

    host.start_reading()
    ids = []
    for _ in range(REQUESTS):
        reply = host.recv()
        assert reply is not None and reply["result"]["protocol"] == 1, (reply, host.stderr)
        ids.append(reply["id"])
    writer.join(REPLY_TIMEOUT)
    peak_growth = _status_kib(host.proc.pid, "VmHWM") - baseline

    assert ids == list(range(1, REQUESTS + 1))  # every reply, in order
    assert state == "stopped reading"
    assert stalled_growth < GROWTH_LIMIT_KIB and peak_growth < GROWTH_LIMIT_KIB, (stalled_growth, peak_growth)
    assert host.wait() == 0


def test_sigterm_while_replies_are_not_read_still_ends_the_host(spawn_host):
    # The dispatcher is stuck writing to a browser that reads nothing, the reader on the full queue.
    host = spawn_host(read_stdout=False)
    flood = b"".join(frame({"id": i, "method": "hello"}) for i in range(1, 20_001))
    writer = threading.Thread(target=_send_ignoring_a_closed_pipe, args=(host, flood), daemon=True)
    writer.start()
    assert _wait_until_stalled_or_done(host, writer) == "stopped reading"
    host.proc.send_signal(signal.SIGTERM)
    assert host.proc.wait(REPLY_TIMEOUT) == 0  # the deadline turns a hang into a failure; no timing claim
    host.wait()
    assert "terminated by the browser" in host.stderr


def _send_ignoring_a_closed_pipe(host, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError):
        host.send_raw(data)
