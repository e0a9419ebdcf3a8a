"""Every shell block of README.md and docs/*.md marked runnable runs as written (issue 21, item 3).

A block is runnable when its fence's info string is ``sh runnable`` (or ``bash runnable``): GitHub colours it as
shell and shows nothing of the mark. The blocks of one file run in order, each in ``bash -euo pipefail``, in one
folder of their own (also HOME), with the venv's commands first on PATH and these variables set
(docs/developer-guide.md, "Docs that run"):

- ``TRACKER2FA_URL``: a real ``tracker2fa verifier serve`` on a loopback port; ``TRACKER2FA_SERVICE_TOKEN`` and
  ``TRACKER2FA_ADMIN_TOKEN``: its tokens; ``TRACKER2FA_DB``: its database;
- ``TRACKER2FA_MOCK_URL``: a real ``tracker2fa mock``.

A block fails the test when a command in it fails (exit status), so a ``curl`` that must succeed is written with
``--fail-with-body``.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The runnable blocks of one document, in order."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        words = match.group("info").split()
        if "runnable" in words[1:]:
            assert words[0] in ("sh", "bash"), f"{path.name}: a runnable block must be sh or bash, not {words[0]}"
            found.append(Block(path, text.count("\n", 0, match.start()) + 1, match.group("body")))
    return found


RUNNABLE = {path: blocks(path) for path in DOCS}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A verifier and a mock, started as the docs tell, and the variables that name them."""
    from native_host.devtools.mock import run_mock

    root = tmp_path_factory.mktemp("docs-servers")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER2FA_", "XDG_"))}
    tokens = {name: secrets.token_urlsafe(32) for name in ("TRACKER2FA_SERVICE_TOKEN", "TRACKER2FA_ADMIN_TOKEN")}
    db = f"sqlite:///{root / 'verifier.db'}"
    serve = subprocess.Popen([sys.executable, "-m", "native_host", "verifier", "serve", "--workers", "1", "--port",
                              str(port), "--db", db], env={**env, **tokens, "HOME": str(root)},
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://localhost:{port}/healthz", timeout=2).close()
                break
            except OSError:
                assert serve.poll() is None and time.monotonic() < deadline, serve.stderr.read() if serve.stderr else ""
                time.sleep(0.2)
        with run_mock(root / "mock") as mock:
            yield {**tokens, "TRACKER2FA_URL": f"http://localhost:{port}", "TRACKER2FA_DB": db,
                   "TRACKER2FA_MOCK_URL": mock.url}
    finally:
        serve.terminate()
        serve.wait(timeout=20)


def test_the_docs_have_runnable_blocks_and_the_api_example_is_one() -> None:
    assert sum(len(b) for b in RUNNABLE.values()) >= 6
    assert any("/v1/totp/verify" in block.text for block in RUNNABLE[REPO / "docs" / "api.md"])


def test_every_curl_to_the_api_in_the_docs_carries_the_authorization_it_needs() -> None:
    """Runnable or not: a call to a tracker-facing or admin endpoint without a bearer token only ever gets 401
    (except the one that shows that 401)."""
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            command = ""
            for line in match.group("body").splitlines():
                command += line.rstrip("\\")
                if line.endswith("\\"):
                    continue
                if "curl" in command and "/v1/" in command and "401" not in command:
                    assert "authorization: bearer" in command.lower(), f"{path.name}: {command.strip()}"
                command = ""


@pytest.mark.parametrize("path", [p for p, found in RUNNABLE.items() if found], ids=lambda p: p.name)
def test_the_runnable_blocks_of_a_document_run_as_written(path: Path, servers: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER2FA_", "XDG_", "VIRTUAL_ENV"))}
    env.update(servers, HOME=str(tmp_path), PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}")
    for block in RUNNABLE[path]:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", block.text], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (f"the block at {block} failed ({done.returncode}):\n{block.text}\n"
                                      f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}")
