"""The README's first command, then `tracker2fa try`: from a copy of the checkout, `python3 install.py` sets
up a venv with what `try` needs, and `try` opens a page with the extension and the host ready.

The copy and its venv live under the temp directory, keyed by pyproject.toml and install.py: the first run
installs everything (as a fresh clone would), later runs refresh the copied sources and re-run install.py,
which then has little left to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from native_host import __version__

REPO = Path(__file__).resolve().parent.parent
PAGE = b'<!doctype html><form><label>Code <input id="otp" autocomplete="one-time-code"></label></form>'


def fresh_copy() -> Path:
    key = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + (REPO / "install.py").read_bytes()
                         + sys.version.encode()).hexdigest()[:16]
    root = Path(tempfile.gettempdir()) / f"tracker2fa-fresh-{key}"
    for stale in root.parent.glob("tracker2fa-fresh-*"):  # copies made for an older pyproject or install.py
        if stale != root:
            shutil.rmtree(stale, ignore_errors=True)
    # What a clone would hold: tracked files and new ones not ignored (.venv, caches and build output are).
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = REPO / name
        if source.is_file():  # a file deleted in the working tree is not copied
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    return root


@contextlib.contextmanager
def page_server() -> Iterator[str]:
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://localhost:{server.server_address[1]}/login"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
@pytest.mark.timeout(1200)  # the first run installs Playwright, FastAPI and the rest from the pip cache
def test_try_works_right_after_the_readmes_first_command(tmp_path: Path) -> None:
    root = fresh_copy()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER2FA_", "VIRTUAL_ENV", "PYTHON"))}
    env["HOME"] = str(tmp_path / "home")
    # A login shell's PATH on Debian: ~/.local/bin first (where pipx puts commands), then the system's.
    env["PATH"] = f"{tmp_path / 'home' / '.local' / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    python3 = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or sys.executable
    setup = subprocess.run([python3, "install.py", "--no-run", "--no-vault"], cwd=root, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1100)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    # The README's everyday commands use the bare name: it works right after the first command.
    bare = subprocess.run(["/bin/sh", "-c", "tracker2fa --version"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert bare.stdout.strip() == f"tracker2fa {__version__}", setup.stdout + bare.stderr
    with page_server() as url:
        done = subprocess.run([str(root / ".venv" / "bin" / "tracker2fa"), "try", url, "--headless", "--seconds", "0"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "tracker2fa try: extension loaded" in done.stderr
    # The host registered for the throwaway profile answered the extension:
    assert f"tracker2fa try: host {__version__}, vault missing" in done.stderr
    assert "second-factor field detected" in done.stderr
