"""Real ``tracker2fa verifier serve`` processes for the worker and multi-node tests, and a client for them.

A ``Node`` is one ``serve`` (a uvicorn process manager and its workers) on its own port. Users are enrolled
straight into the shared database through an in-process Verifier holding the same server key, which is
quicker than three HTTP round trips per user and leaves the HTTP traffic to the behaviour under test.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from verifier.core import totp

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_processes(pid: int) -> list[int]:
    """The live worker processes uvicorn's manager ``pid`` spawned (from /proc; not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "(comm)": state, ppid, ...
        if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in _cmdline(entry):
            found.append(int(entry.name))
    return sorted(found)


def _cmdline(proc_dir: Path) -> bytes:
    try:
        return (proc_dir / "cmdline").read_bytes()
    except OSError:
        return b""


@dataclass
class Node:
    """One ``verifier serve`` process and the tokens it was started with."""

    proc: subprocess.Popen
    base: str
    admin_token: str
    service_token: str
    stderr_path: Path
    _conn: dict[int, http.client.HTTPConnection] = field(default_factory=dict)

    def call(self, method: str, path: str, body: dict | None = None, *, admin: bool = False,
             timeout: float = 60) -> tuple[int, dict]:
        """One request on a new connection (the kernel spreads new connections over the workers)."""
        token = self.admin_token if admin else self.service_token
        request = urllib.request.Request(self.base + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"authorization": f"Bearer {token}",
                                                  "content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def verify_totp(self, name: str, code: str, ip: str) -> dict:
        status, reply = self.call("POST", "/v1/totp/verify", {"username": name, "code": code, "ip": ip,
                                                              "user_agent": "pytest"})
        assert status == 200, reply
        return reply

    def workers(self) -> list[int]:
        return worker_processes(self.proc.pid)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def start_node(db_url: str, workdir: Path, *, workers: int, key: bytes, admin_token: str,
               service_token: str, extra_args: tuple[str, ...] = (), extra_env: dict[str, str] | None = None) -> Node:
    """Start ``serve --workers N`` and wait until every worker is up and /healthz answers."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TRACKER2FA_ADMIN_TOKEN": admin_token,
           "TRACKER2FA_SERVICE_TOKEN": service_token, "TRACKER2FA_VERIFIER_KEY": base64.b64encode(key).decode(),
           **(extra_env or {})}
    stderr_path = workdir / f"serve-{port}.stderr"
    with open(stderr_path, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "native_host", "verifier", "serve", "--db", db_url,
                                 "--port", str(port), "--workers", str(workers), *extra_args],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                start_new_session=True)
    node = Node(proc, f"http://127.0.0.1:{port}", admin_token, service_token, stderr_path)
    deadline = time.monotonic() + 90
    spawned = workers if workers > 1 else 0  # with one worker uvicorn serves in the manager's own process
    while not (node.healthy() and len(node.workers()) == spawned):
        if proc.poll() is not None:
            raise AssertionError(f"verifier serve exited: {node.stderr()}")
        if time.monotonic() > deadline:
            stop_node(node)
            raise AssertionError(f"verifier serve was not ready within 90 s: {node.stderr()}")
        time.sleep(0.1)
    return node


def stop_node(node: Node) -> int:
    """SIGTERM the manager (it stops its workers), then make sure nothing of the group is left."""
    node.proc.terminate()
    try:
        code = node.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(node.proc.pid, signal.SIGKILL)
        node.proc.wait()
        raise AssertionError("verifier serve did not stop within 30 s of SIGTERM") from None
    return code


@contextmanager
def nodes(db_url: str, workdir: Path, *, count: int, workers: int) -> Iterator[tuple[list[Node], bytes]]:
    """``count`` nodes on one database, sharing the server key and tokens; stopped afterwards."""
    key = secrets.token_bytes(32)
    admin_token, service_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    started: list[Node] = []
    try:
        for _ in range(count):
            started.append(start_node(db_url, workdir, workers=workers, key=key, admin_token=admin_token,
                                      service_token=service_token))
        yield started, key
    finally:
        for node in started:
            if node.proc.poll() is None:
                stop_node(node)


def enrol(verifier, username: str) -> bytes:
    """Create ``username`` with a confirmed TOTP factor (its enrolment code one step back); the raw secret."""
    verifier.create_user(username)
    enrolment = verifier.totp_enroll_begin(username)
    secret = base64.b32decode(enrolment.secret + "=" * (-len(enrolment.secret) % 8))
    # A 30 s boundary passing between computing the code and the verifier's check makes the code two steps
    # old, outside the window (about one enrolment in a thousand under load): then once more.
    for _ in range(2):
        if verifier.totp_enroll_confirm(username, totp.totp(secret, time.time() - 30), "192.0.2.250", "setup").ok:
            return secret
    raise AssertionError(f"the enrolment of {username} was refused twice")


def fresh_ip() -> str:
    return f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"
