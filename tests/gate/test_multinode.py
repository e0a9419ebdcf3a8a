"""Two ``gate serve`` processes on one PostgreSQL database share their sessions: a login on one node is good
on the other, a logout on one holds on the other at the next request, and ``kill -9`` of a node loses
none of the sessions it had acknowledged."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pyotp
import pytest

from tests.verifier.conftest import new_pg_schema_url, pg_database  # noqa: F401 (the fixture, by name)

from .support import REPO, Browser, GateProcess, start_gate, stop, totp_user

pytestmark = pytest.mark.postgres
PORTAL = "http://auth.one.localhost:8000"
APP = "http://app.one.localhost:8000/"
CONFIG = """\
[server]
trusted_proxies = ["127.0.0.1"]
[database]
url = "{url}"
[[domains]]
domain = "one.localhost"
portal = "http://auth.one.localhost:8000"
[access_control]
default_policy = "two_factor"
"""


@dataclass
class Cluster:
    nodes: list[GateProcess]
    verifier: object

    def browser(self, node: int) -> Browser:
        return Browser(self.nodes[node].port, source="127.0.0.1")

    def check(self, node: int, browser: Browser) -> tuple[int, str | None]:
        """The forward-auth check for ``browser``'s cookies, asked of ``node`` as a proxy asks."""
        on = Browser(self.nodes[node].authz_port, source="127.0.0.1")
        headers = {"X-Original-URL": APP, "Cookie": browser.cookie_header("app.one.localhost")}
        reply = on.get(f"http://127.0.0.1:{self.nodes[node].authz_port}/api/authz/auth-request", headers=headers,
                       follow=False)
        return reply.status, reply.header("remote-user")


@pytest.fixture
def cluster(pg_database: str, tmp_path: Path) -> Iterator[Cluster]:  # noqa: F811
    from verifier.core.backup import HashParams
    from verifier.service import Verifier, VerifierSettings
    from verifier.store import open_store

    url, schema = new_pg_schema_url(pg_database)
    key = secrets.token_bytes(32)
    config = tmp_path / "gate.toml"
    config.write_text(CONFIG.format(url=url))
    store = open_store(url)
    verifier = Verifier(store, VerifierSettings(server_key=key, password_hash=HashParams(n=2**10)))
    nodes: list[GateProcess] = []
    try:
        nodes.append(start_gate(config, key, tmp_path))
        nodes.append(start_gate(config, key, tmp_path))
        yield Cluster(nodes, verifier)
    finally:
        for node in nodes:
            stop(node.proc)
        store.close()
        with psycopg.connect(pg_database, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def log_in(cluster: Cluster, node: int, name: str, secret: str) -> Browser:
    browser = cluster.browser(node)
    browser.post(f"{PORTAL}/login", {"username": name, "password": "correct horse", "rd": APP}, follow=False)
    done = browser.post(f"{PORTAL}/2fa", {"code": pyotp.TOTP(secret).now(), "rd": APP}, follow=False)
    assert done.status == 303 and done.header("location") == APP, done.text[:300]
    return browser


def test_a_login_on_one_node_is_good_on_the_other_and_a_logout_on_that_one_ends_it(cluster: Cluster) -> None:
    browser = log_in(cluster, 0, "alice", totp_user(cluster.verifier, "alice"))
    assert cluster.check(1, browser) == (200, "alice")
    other = Browser(cluster.nodes[1].port, source="127.0.0.1")
    other.jar = dict(browser.jar)
    assert 'data-page="logged-out"' in other.post(f"{PORTAL}/logout", {}).text
    assert cluster.check(0, browser)[0] == 401


def test_kill_9_of_a_node_loses_none_of_the_sessions_it_acknowledged(cluster: Cluster) -> None:
    browsers = []
    for i in range(12):
        name = f"user{i}"
        browsers.append((name, log_in(cluster, 0, name, totp_user(cluster.verifier, name))))
    os.kill(cluster.nodes[0].proc.pid, signal.SIGKILL)
    cluster.nodes[0].proc.wait(timeout=30)
    assert [cluster.check(1, b) for _name, b in browsers] == [(200, name) for name, _b in browsers]


def test_a_node_without_the_shared_server_key_refuses_to_start(cluster: Cluster, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRACKER2FA_VERIFIER_KEY"}
    command = [sys.executable, "-m", "native_host", "gate", "serve", "--config", str(tmp_path / "gate.toml"),
               "--workers", "1", "--port", "1"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert done.returncode == 1 and "TRACKER2FA_VERIFIER_KEY" in done.stderr
