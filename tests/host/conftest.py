"""Fixtures for the host suite: a real ``tracker2fa-host`` process started exactly as a browser starts it."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from native_host import DEV_EXTENSION_ID, GECKO_EXTENSION_ID

CHROMIUM_ARGV = [f"chrome-extension://{DEV_EXTENSION_ID}/"]
REPLY_TIMEOUT = 30.0  # generous: a loaded 2-core CI machine; never a timing assertion


def host_executable() -> str:
    """The installed console script, as a browser's manifest names it."""
    found = shutil.which("tracker2fa-host") or str(Path(sys.executable).parent / "tracker2fa-host")
    assert os.access(found, os.X_OK), f"tracker2fa-host is not installed next to {sys.executable}"
    return found


def frame(message: dict | bytes) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return struct.pack("=I", len(body)) + body


class HostProcess:
    """A running host: write frames to its stdin, read frames from its stdout (via a reader thread)."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, *, read_stdout: bool = True) -> None:
        exe = host_executable()
        self.proc = subprocess.Popen(
            [exe, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd
        )
        self.frames: queue.Queue[dict | None] = queue.Queue()
        self.stdout_garbage = b""
        self._stderr = b""
        self._out = threading.Thread(target=self._read_frames, daemon=True)
        self._err = threading.Thread(target=self._read_stderr, daemon=True)
        if read_stdout:
            self._out.start()
        self._err.start()
        self._next_id = 0

    def start_reading(self) -> None:
        """Start draining stdout (for a host spawned with ``read_stdout=False``)."""
        if not self._out.is_alive():
            self._out.start()

    def _read_frames(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            header = out.read(4)
            if len(header) < 4:
                self.stdout_garbage += header
                break
            (length,) = struct.unpack("=I", header)
            body = out.read(length)
            if len(body) < length:
                self.stdout_garbage += header + body
                break
            try:
                self.frames.put(json.loads(body.decode("utf-8")))
            except ValueError:
                self.stdout_garbage += header + body
        self.frames.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self._stderr = self.proc.stderr.read()

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict) -> None:
        self.send_raw(frame(message))

    def request(self, method: str, params: dict | None = None) -> int:
        """Send a request and return its id."""
        self._next_id += 1
        message: dict = {"id": self._next_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return self._next_id

    def recv(self, timeout: float = REPLY_TIMEOUT) -> dict | None:
        """The next frame from the host, or None once its stdout has closed."""
        return self.frames.get(timeout=timeout)

    def reply_to(self, request_id: object, timeout: float = REPLY_TIMEOUT) -> dict:
        """The reply with this id; events and other replies met on the way are kept for later."""
        skipped = []
        try:
            while True:
                message = self.recv(timeout)
                assert message is not None, f"the host closed stdout before answering {request_id!r}: {self.stderr}"
                if "event" not in message and message.get("id") == request_id:
                    return message
                skipped.append(message)
        finally:
            for message in skipped:
                self.frames.put(message)

    def call(self, method: str, params: dict | None = None) -> dict:
        """Send a request and return the whole reply."""
        return self.reply_to(self.request(method, params))

    def result(self, method: str, params: dict | None = None) -> dict:
        """Send a request and return its result; fail the test with the error if there is one."""
        reply = self.call(method, params)
        assert "result" in reply, (reply, self.stderr if self.proc.poll() is not None else "")
        return reply["result"]

    def error_code(self, method: str, params: dict | None = None) -> str:
        reply = self.call(method, params)
        assert "error" in reply, reply
        assert set(reply["error"]) == {"code", "message"} and reply["error"]["message"]
        return reply["error"]["code"]

    def close_stdin(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):  # the host may have gone with our data unread
                self.proc.stdin.close()

    def wait(self, timeout: float = REPLY_TIMEOUT) -> int:
        self.close_stdin()
        code = self.proc.wait(timeout)
        if self._out.is_alive():
            self._out.join(timeout)
        self._err.join(timeout)
        return code

    def remaining_frames(self) -> list[dict]:
        """Every frame left, after the process has exited."""
        out = []
        while (message := self.frames.get(timeout=REPLY_TIMEOUT)) is not None:
            out.append(message)
        return out

    @property
    def stderr(self) -> str:
        return self._stderr.decode("utf-8", "replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(REPLY_TIMEOUT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@pytest.fixture
def host_env(tmp_path: Path) -> dict[str, str]:
    """A browser-like environment: temp HOME, and the host's config and vault in the test's directory."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER2FA_", "XDG_"))}
    env.update(
        HOME=str(home),
        TRACKER2FA_CONFIG=str(tmp_path / "host.json"),
        TRACKER2FA_VAULT=str(tmp_path / "vault.json"),
    )
    return env


@pytest.fixture
def spawn_host(host_env: dict[str, str], tmp_path: Path) -> Iterator:
    """Start hosts with browser argv (Chromium's by default); every host is killed at teardown."""
    started: list[HostProcess] = []

    def spawn(args: list[str] | None = None, env: dict[str, str] | None = None, *, read_stdout: bool = True
              ) -> HostProcess:
        host = HostProcess(CHROMIUM_ARGV if args is None else args, env or host_env, tmp_path, read_stdout=read_stdout)
        started.append(host)
        return host

    yield spawn
    for host in started:
        host.kill()


@pytest.fixture
def firefox_argv(tmp_path: Path) -> list[str]:
    manifest = tmp_path / "home" / ".mozilla" / "native-messaging-hosts" / "dev.tracker2fa.host.json"
    return [str(manifest), GECKO_EXTENSION_ID]
