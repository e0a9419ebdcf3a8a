"""``tracker2fa mock --behind-gate`` as the upstream of nginx and the gate, on one database: the mock signs
people in from Remote-User, its admin page ends a user's gate sessions, and that holds at the next request."""

from __future__ import annotations

import base64
import html
import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from verifier.gate import proxy_configs

from .conftest import require
from .support import REPO, Browser, GateProcess, Proxy, free_port, start_gate, start_nginx, stop

CONFIG = """\
[server]
trusted_proxies = ["127.0.0.1"]
[database]
url = "sqlite:///{db}"
[[domains]]
domain = "one.localhost"
portal = "http://auth.one.localhost:{port}"
[access_control]
default_policy = "two_factor"
"""


@dataclass
class BehindGate:
    port: int
    mock_port: int
    alice_secret: str
    gate: GateProcess
    nginx: Proxy

    def url(self, path: str = "/") -> str:
        return f"http://app.one.localhost:{self.port}{path}"

    @property
    def portal(self) -> str:
        return f"http://auth.one.localhost:{self.port}"


@pytest.fixture(scope="module")
def behind_gate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BehindGate]:
    require("nginx")
    workdir = tmp_path_factory.mktemp("behind-gate")
    key = secrets.token_bytes(32)
    port = free_port()
    db = workdir / "shared.db"
    env = {**os.environ, "HOME": str(workdir), "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO),
           "TRACKER2FA_VERIFIER_KEY": base64.b64encode(key).decode()}
    mock = subprocess.Popen(
        [sys.executable, "-m", "native_host", "mock", "--port", "0", "--db", f"sqlite:///{db}", "--behind-gate",
         "--demo-user", "carol:carol-demo-pass", "--allowed-host", "app.one.localhost", "--gate-logout", f"http://auth.one.localhost:{port}/logout"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO, start_new_session=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert mock.stdout is not None
        for line in mock.stdout:
            lines.append(line)
            if line.startswith("behind the gate:"):
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert ready.wait(60) and any(line.startswith("behind the gate:") for line in lines), "".join(lines)
        text = "".join(lines)
        mock_port = int(re.search(r"Jibra mock tracker: http://localhost:(\d+)/", text).group(1))  # type: ignore
        uri = re.search(r"add to your authenticator: (otpauth://\S+)", text).group(1)  # type: ignore[union-attr]
        config = workdir / "gate.toml"
        config.write_text(CONFIG.format(db=db, port=port))
        gate = start_gate(config, key, workdir)
        try:
            layout = proxy_configs.Layout(gate=gate.address, authz=gate.authz_address,
                                          portal_hosts=("auth.one.localhost",), port=port, address="127.0.0.1",
                                          tls=None,
                                          sites=(proxy_configs.Site("app.one.localhost", f"127.0.0.1:{mock_port}"),))
            nginx = start_nginx(layout, workdir)
            try:
                yield BehindGate(port, mock_port, pyotp.parse_uri(uri).secret, gate, nginx)
            finally:
                stop(nginx.proc)
        finally:
            stop(gate.proc)
    finally:
        stop(mock)


def log_in(browser: Browser, env: BehindGate, username: str, password: str, secret: str | None) -> str:
    """Log in through the portal from the tracker's dashboard; returns the TOTP secret (a new one if enrolled)."""
    page = browser.get(env.url("/dashboard"))
    rd = parse_qs(urlsplit(page.url).query)["rd"][0]
    page = browser.post(f"{env.portal}/login", {"username": username, "password": password, "rd": rd})
    if 'data-page="enrol"' in page.text:
        secret = html.unescape(re.search(r'data-testid="totp-secret">([^<]+)<', page.text).group(1))  # type: ignore
        shown = browser.post(f"{env.portal}/enrol", {"code": pyotp.TOTP(secret).now(), "rd": rd})
        assert 'data-page="backup-codes"' in shown.text
        page = browser.get(rd)
    elif 'data-page="second-factor"' in page.text:
        assert secret is not None
        page = browser.post(f"{env.portal}/2fa", {"code": pyotp.TOTP(secret).now(), "rd": rd})
    assert 'data-page="dashboard"' in page.text, page.text[:400]
    assert secret is not None
    return secret


def test_the_mock_signs_in_the_gates_user_from_remote_user(behind_gate: BehindGate) -> None:
    browser = Browser(behind_gate.port)
    log_in(browser, behind_gate, "alice", "alice-demo-pass", behind_gate.alice_secret)
    dashboard = browser.get(behind_gate.url("/dashboard"))
    assert 'data-testid="current-user">alice<' in dashboard.text
    # The mock's own login page is not used behind the gate: it leads to the dashboard.
    assert 'data-page="dashboard"' in browser.get(behind_gate.url("/login")).text


def test_remote_user_sent_to_the_mock_by_anyone_but_the_proxy_is_ignored(behind_gate: BehindGate) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", behind_gate.mock_port, timeout=30,
                                      source_address=("127.0.0.2", 0))
    conn.request("GET", "/dashboard", headers={"Host": "localhost", "Remote-User": "admin"})
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    assert response.status == 401 and 'data-page="behind-gate"' in body


def test_the_mocks_admin_page_ends_a_users_gate_sessions_at_their_next_request(behind_gate: BehindGate) -> None:
    bob = Browser(behind_gate.port)
    log_in(bob, behind_gate, "bob", "bob-demo-pass", None)  # no factor yet: enrols at first login
    assert bob.get(behind_gate.url("/dashboard"), follow=False).status == 200
    admin = Browser(behind_gate.port)
    log_in(admin, behind_gate, "admin", "admin-demo-pass", None)
    page = admin.get(behind_gate.url("/admin"))
    assert 'data-testid="user-revoke-sessions"' in page.text
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    done = admin.post(behind_gate.url("/admin/revoke-sessions"), {"username": "bob", "csrf_token": csrf})
    assert "1 gate sessions of bob ended" in html.unescape(done.text)
    again = bob.get(behind_gate.url("/dashboard"), follow=False)
    assert again.status == 302 and (again.header("location") or "").startswith(behind_gate.portal)
    assert admin.get(behind_gate.url("/dashboard"), follow=False).status == 200  # only bob's ended


def test_log_out_in_the_mock_leads_to_the_gates_logout(behind_gate: BehindGate) -> None:
    browser = Browser(behind_gate.port)
    log_in(browser, behind_gate, "carol", "carol-demo-pass", None)
    page = browser.get(behind_gate.url("/dashboard"))
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    confirm = browser.post(behind_gate.url("/logout"), {"csrf_token": csrf})
    assert confirm.url == f"{behind_gate.portal}/logout" and 'data-page="logout"' in confirm.text
    out = browser.post(f"{behind_gate.portal}/logout", {})
    assert 'data-page="logged-out"' in out.text
    assert browser.get(behind_gate.url("/dashboard"), follow=False).status == 302
