"""`tracker2fa mock` as a real process: prints the URL and demo credentials, serves the login page."""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
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


def login_attempt(client: httpx.Client, username: str, password: str) -> httpx.Response:
    """One submit of the login form, with the page's CSRF token."""
    page = client.get("/login").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def attempts_until_locked(client: httpx.Client, usernames, password: str) -> list[httpx.Response]:
    """Wrong passwords until the page says the login is locked (at most 100: NIST SP 800-63B)."""
    replies = []
    for username, _ in zip(usernames, range(100), strict=False):
        replies.append(login_attempt(client, username, password))
        if replies[-1].status_code == 429:
            break
    return replies


def test_repeated_wrong_passwords_lock_that_users_login_with_a_clear_message(mock_process):
    url, _ = mock_process
    with httpx.Client(base_url=url) as client:
        replies = attempts_until_locked(client, itertools.repeat("carol"), "not carol's password")
        assert replies[-1].status_code == 429, [r.status_code for r in replies]
        assert {r.status_code for r in replies[:-1]} == {401}
        assert re.search(r"Too many failed login attempts: logging in is temporarily locked\. Try again in \d+ "
                         r"seconds", replies[-1].text)
        assert login_attempt(client, "carol", "carol-pass").status_code == 429  # not even checked while locked
        assert login_attempt(client, "bob", "bob-demo-pass").status_code == 303  # other users log in


def test_password_guessing_across_many_users_locks_the_client_address(mock_process):
    url, _ = mock_process
    with httpx.Client(base_url=url) as client:
        names = (f"guess{i}" for i in range(100))  # a new name each time: no user counter ever fills up
        replies = attempts_until_locked(client, names, "password123")
        assert replies[-1].status_code == 429 and len(replies) > 1
        assert "Too many failed login attempts" in replies[-1].text
        assert login_attempt(client, "carol", "carol-pass").status_code == 429


def test_a_foreign_host_header_is_refused(mock_process):
    url, _ = mock_process
    port = url.rsplit(":", 1)[1]
    for path in ("/login", "/healthz", "/2fa"):
        r = httpx.get(f"{url}{path}", headers={"host": f"rebound.example:{port}"})
        assert r.status_code == 400 and "Invalid host header" in r.text, path
        assert r.headers["x-frame-options"] == "DENY"
    r = httpx.post(f"{url}/login", headers={"host": "rebound.example"}, data={"username": "carol"})
    assert r.status_code == 400
    assert httpx.get(f"{url}/login").status_code == 200


def test_the_banner_prints_the_admin_command_for_the_mocks_own_database(mock_process, tmp_path):
    _, banner = mock_process
    line = next(line for line in banner.splitlines() if line.startswith("admin CLI on this database: "))
    command = line.split(": ", 1)[1]
    assert command == f"tracker2fa verifier admin --db sqlite:///{tmp_path}/v.db list-users"
    # Run exactly that (the installed script's module form), while the mock is serving.
    listed = subprocess.run([sys.executable, "-m", "native_host", *shlex.split(command)[1:]], capture_output=True,
                            text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)})
    assert listed.returncode == 0, listed.stderr
    assert {"admin", "alice", "bob", "carol"} <= set(json.loads(listed.stdout)["users"])
