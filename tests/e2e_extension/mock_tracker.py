"""``tracker2fa mock`` as a real process for the extension's end-to-end tests: started on a free port with
its own database and HOME, read until it prints its URL, alice's otpauth URI and backup codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class MockTracker:
    url: str
    alice_uri: str
    alice_backup_codes: list[str]
    db_url: str
    env: dict[str, str]

    def admin(self, *args: str) -> subprocess.CompletedProcess:
        """``tracker2fa verifier admin --db <the mock's database> ARGS`` as another process (as an admin would)."""
        return subprocess.run([sys.executable, "-m", "native_host", "verifier", "admin", "--db", self.db_url, *args],
                              capture_output=True, text=True, env=self.env, cwd=REPO, timeout=120)


@contextmanager
def running_mock(root: Path) -> Iterator[MockTracker]:
    """A mock tracker on a free port with its database under ``root``, stopped afterwards."""
    env = {**os.environ, "HOME": str(root), "PYTHONUNBUFFERED": "1"}
    db_url = f"sqlite:///{root / 'mock.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "native_host", "mock", "--port", "0", "--db", db_url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "backup codes:" in line:
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(60) or not any("backup codes:" in line for line in lines):
            pytest.fail("tracker2fa mock did not start:\n" + "".join(lines))
        text = "".join(lines)
        url = re.search(r"Jibra mock tracker: (http://localhost:\d+)/", text).group(1)  # type: ignore[union-attr]
        uri = re.search(r"add to your authenticator: (otpauth://\S+)", text).group(1)  # type: ignore[union-attr]
        codes = re.search(r"backup codes: (.+)", text).group(1).split()  # type: ignore[union-attr]
        yield MockTracker(url, uri, codes, db_url, env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
