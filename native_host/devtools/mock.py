"""Run ``tracker2fa mock`` on a free loopback port with a database of its own, for tests and the test kit.

The mock (the ``verifier`` extra) is started as its own process with the ``tracker2fa`` command, so this module
imports nothing of the verifier (the user's machine and the server share no code). What the mock prints at
its first start is read back: its URL, alice's otpauth URI and her backup codes (demo data only).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .browsers import BrowserError

# The demo users `tracker2fa mock` seeds (docs/mock-tracker.md): alice has TOTP and backup codes; bob and admin
# enrol at their first login.
DEMO_PASSWORDS = {"alice": "alice-demo-pass", "bob": "bob-demo-pass", "admin": "admin-demo-pass"}


@dataclass
class MockTracker:
    """A running mock tracker: its URL (``http://localhost:PORT``: WebAuthn refuses IP origins), alice's TOTP
    as an otpauth URI, her backup codes, the demo users' passwords and the database."""

    url: str
    alice_uri: str
    alice_backup_codes: list[str]
    db_url: str
    env: dict[str, str] = field(default_factory=dict)  # the mock's environment (its HOME), for admin()
    passwords: dict[str, str] = field(default_factory=lambda: dict(DEMO_PASSWORDS))
    output: list[str] = field(default_factory=list)  # what the mock printed (its log)

    @property
    def origin(self) -> str:
        return self.url

    def admin(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``tracker2fa verifier admin --db <the mock's database> ARGS`` as another process (as an admin would),
        e.g. ``admin("set-policy", "--mode", "none")`` while the mock runs."""
        return subprocess.run([sys.executable, "-m", "native_host", "verifier", "admin", "--db", self.db_url, *args],
                              capture_output=True, text=True, env=self.env, timeout=120)


@contextmanager
def run_mock(root: Path, *, extra_users: dict[str, str] | None = None, timeout: float = 60) -> Iterator[MockTracker]:
    """Start ``tracker2fa mock --port 0`` with its database under ``root`` (created if missing); stop it at the end.

    ``extra_users`` ({name: password}) are seeded with no factor (their first login enrols TOTP).
    """
    root.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{root / 'mock-verifier.db'}"
    cmd = [sys.executable, "-m", "native_host", "mock", "--port", "0", "--db", db_url]
    for name, password in (extra_users or {}).items():
        cmd += ["--demo-user", f"{name}:{password}"]
    env = {**os.environ, "HOME": str(root), "PYTHONUNBUFFERED": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("XDG_")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(("users without a factor", "policy mode")):  # the last line of its banner
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True, name="tracker2fa-mock").start()
    try:
        if not ready.wait(timeout) or proc.poll() is not None:
            raise BrowserError("tracker2fa mock did not start:\n" + "".join(lines))
        text = "".join(lines)
        url = re.search(r"Jibra mock tracker: (http://localhost:\d+)/", text)
        uri = re.search(r"add to your authenticator: (otpauth://\S+)", text)
        codes = re.search(r"backup codes: (.+)", text)
        if not url or not uri or not codes:
            raise BrowserError("tracker2fa mock started on a database where alice already existed, or printed "
                               "something unexpected (give it a fresh folder):\n" + text)
        mock = MockTracker(url.group(1), uri.group(1), codes.group(1).split(), db_url, env=env, output=lines)
        mock.passwords.update(extra_users or {})
        yield mock
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
