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


@pytest.mark.browser
@pytest.mark.parametrize("browser", ["chromium", "firefox"])
def test_try_logs_in_to_the_mock_and_turns_security_keys_on_for_its_origin(
    browser: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from native_host.devtools.mock import run_mock

    env_key = str(tmp_path / "vkey.json")
    monkeypatch.setenv("TRACKER2FA_VIRTUAL_KEY", env_key)
    with run_mock(tmp_path / "mock") as mock:
        done = run_try(f"{mock.url}/login", "--browser", browser, "--headless", "--seconds", "0",
                       "--login", "alice:alice-demo-pass", "--vault", str(tmp_path / "vault.json"), home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"tracker2fa try: security keys on for {mock.url} (the virtual key {env_key})" in done.stderr
    assert f"tracker2fa try: logged in as alice; now at {mock.url}/2fa" in done.stderr
    assert "tracker2fa try: this page's security-key requests go to tracker2fa" in done.stderr
    assert "second-factor field detected" in done.stderr


def test_try_where_nothing_listens_says_so_in_one_line_before_starting_a_browser(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    done = run_try(f"http://localhost:{port}/login", home=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (f"tracker2fa: error: nothing answers at http://localhost:{port} (Connection refused) — "
                           f"is `tracker2fa mock` running? Start it with `tracker2fa mock --port {port}`\n")
