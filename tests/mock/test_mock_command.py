"""`tracker2fa mock` as a real process: prints the URL and demo credentials, serves the login page."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest


@pytest.fixture
def mock_process(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "native_host", "mock", "--port", "0", "--db", f"sqlite:///{tmp_path}/v.db",
         "--demo-user", "carol:carol-pass"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    url = None
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if m := re.search(r"(http://localhost:\d+)/", line):
            url = m.group(1)
    # Read the rest of the banner (it ends with the enrolment note).
    while lines and "first login" not in lines[-1] and time.monotonic() < deadline:
        lines.append(proc.stdout.readline())
    if url is None:
        proc.kill()
        pytest.fail(f"no URL printed: {''.join(lines)} {proc.stderr.read()}")
    yield url, "".join(lines)
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=15)


def test_mock_prints_a_localhost_url_and_the_demo_credentials(mock_process):
    url, banner = mock_process
    assert url.startswith("http://localhost:")
    for user, password in (("admin", "admin-demo-pass"), ("alice", "alice-demo-pass"), ("bob", "bob-demo-pass"),
                           ("carol", "carol-pass")):
        assert f"{user} / {password}" in banner
    assert "otpauth://totp/" in banner  # alice's enrolled TOTP


def test_demo_user_from_the_command_line_is_led_to_enrolment(mock_process):
    url, _ = mock_process
    with httpx.Client(base_url=url) as client:
        page = client.get("/login").text
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        r = client.post("/login", data={"username": "carol", "password": "carol-pass", "csrf_token": token},
                        follow_redirects=True)
    assert r.url.path == "/enrol"
    assert 'autocomplete="one-time-code"' in r.text


def test_mock_refuses_a_malformed_demo_user():
    r = subprocess.run([sys.executable, "-m", "native_host", "mock", "--demo-user", "nocolon"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "NAME:PASSWORD" in r.stderr


def test_mock_on_a_busy_port_says_to_choose_another(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "native_host", "mock", "--port", str(port),
                            "--db", f"sqlite:///{tmp_path}/v.db"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr and "--port" in r.stderr
