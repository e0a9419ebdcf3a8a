"""`tracker2fa try URL`: a throwaway browser profile with the extension and the host, opened on URL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from native_host import __version__

from .conftest import PageServer

REPO = Path(__file__).resolve().parents[2]


def run_try(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "native_host", "try", *args], capture_output=True, text=True, timeout=120, env=env,
        cwd=REPO,
    )


@pytest.mark.browser
@pytest.mark.parametrize("browser", ["chromium", "firefox"])
def test_try_opens_the_url_with_the_extension_and_host_ready(
    browser: str, pages: PageServer, tmp_path: Path
) -> None:
    shot = tmp_path / "shot.png"
    done = run_try(
        pages.url("/pages/atlassian.html"), "--browser", browser, "--headless", "--seconds", "0",
        "--vault", str(tmp_path / "vault.json"), "--screenshot", str(shot), home=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "extension" in done.stderr
    assert "second-factor field detected" in done.stderr
    # The host registered for the throwaway profile answered (without it the extension can only say that
    # the host is not installed): its version and vault status, or in Firefox, on the page, its refusal to
    # hand out a code from a vault nobody unlocked.
    if browser == "chromium":
        assert f"tracker2fa try: host {__version__}, vault missing" in done.stderr
    else:
        assert "the fill control, clicked, says: error: Your vault is locked." in done.stderr
    assert shot.read_bytes().startswith(b"\x89PNG")
    # --seconds ends the session, and the last line says so (not "close the window", with no window to close).
    assert done.stderr.strip().splitlines()[-1].endswith("; closing after 0 s")


def test_try_refuses_a_url_that_is_not_http(tmp_path: Path) -> None:
    done = run_try("file:///etc/passwd", "--headless", home=tmp_path)
    assert done.returncode != 0
    assert "not an http(s) URL" in done.stderr
