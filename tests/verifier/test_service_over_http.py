"""Rate-limit keys and enumeration over real HTTP against a running ``tracker2fa verifier serve``.

One server process per database (SQLite, PostgreSQL) for the module; each test uses its own users and its
own client addresses, so tests sharing the server do not meet. The service token is passed as a tracker
would: ``$TRACKER2FA_SERVICE_TOKEN`` for the server, ``Authorization: Bearer`` on every request.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from verifier.core import totp

from .conftest import new_pg_schema_url

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = "import sys; from native_host.cli import main; sys.exit(main())"
IP_FREE_FAILURES = 20  # the served default of ip_rate_limit.free_failures (VerifierSettings)


@dataclass
class Server:
    base: str
    admin_token: str
    service_token: str

    def call(self, method: str, path: str, body: dict | None = None, *, admin: bool = False) -> tuple[int, dict]:
        token = self.admin_token if admin else self.service_token
        request = urllib.request.Request(self.base + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"authorization": f"Bearer {token}",
                                                  "content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def create_user(self, name: str) -> None:
        status, reply = self.call("POST", "/v1/admin/users", {"username": name, "groups": []}, admin=True)
        assert status == 201, reply

    def enrol_totp(self, name: str) -> bytes:
        self.create_user(name)
        status, enrolment = self.call("POST", "/v1/totp/enrol/begin", {"username": name})
        assert status == 200, enrolment
        secret = base64.b32decode(enrolment["secret"] + "=" * (-len(enrolment["secret"]) % 8))
        status, reply = self.call("POST", "/v1/totp/enrol/confirm",
                                  {"username": name, "code": totp.totp(secret, time.time() - 30), "ip": "192.0.2.1"})
        assert status == 200 and reply["ok"], reply
        return secret

    def verify_totp(self, name: str, code: str, ip: str) -> dict:
        status, reply = self.call("POST", "/v1/totp/verify", {"username": name, "code": code, "ip": ip,
                                                              "user_agent": "pytest"})
        assert status == 200, reply
        return reply

    def verify_backup(self, name: str, code: str, ip: str) -> dict:
        status, reply = self.call("POST", "/v1/backup-codes/verify", {"username": name, "code": code, "ip": ip,
                                                                      "user_agent": "pytest"})
        assert status == 200, reply
        return reply


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request, tmp_path_factory) -> Iterator[Server]:
    """``tracker2fa verifier serve`` on a fresh database, with admin and service tokens from the environment."""
    schema_cleanup = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('serve') / 'verifier.db'}"
    else:
        import psycopg

        db = request.getfixturevalue("pg_database")
        url, schema = new_pg_schema_url(db)

        def schema_cleanup() -> None:
            with psycopg.connect(db, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

    port = _free_port()
    tokens = {"TRACKER2FA_ADMIN_TOKEN": secrets.token_urlsafe(24),
              "TRACKER2FA_SERVICE_TOKEN": secrets.token_urlsafe(24)}
    env = {**os.environ, **tokens, "PYTHONPATH": str(REPO),
           "TRACKER2FA_VERIFIER_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
    proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, "verifier", "serve", "--db", url, "--port", str(port)],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"verifier serve exited: {proc.stderr.read()}")
            if time.monotonic() > deadline:
                pytest.fail("verifier serve did not answer /healthz within 60 s")
            time.sleep(0.1)
        yield Server(base, tokens["TRACKER2FA_ADMIN_TOKEN"], tokens["TRACKER2FA_SERVICE_TOKEN"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        if schema_cleanup is not None:
            schema_cleanup()


def _name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def _ipv6_64() -> str:
    """A fresh /64 prefix under 2001:db8::/32 (documentation space), as ``2001:db8:X:Y``."""
    return f"2001:db8:{secrets.randbelow(0xffff):x}:{secrets.randbelow(0xffff):x}"


def _fresh_ipv4() -> str:
    return f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"


def _wrong_code(secret: bytes) -> str:
    near = {totp.totp(secret, time.time() + d * 30) for d in range(-3, 4)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def _lock_address(server: Server, ips: list[str]) -> None:
    """IP_FREE_FAILURES failures from ``ips`` (cycled), each against a new unknown name (no user counter grows);
    then checks, as a control, that the last address used is locked."""
    for i in range(IP_FREE_FAILURES):
        server.verify_totp(_name("probe"), "000000", ips[i % len(ips)])
    assert server.verify_totp(_name("probe"), "000000", ips[(IP_FREE_FAILURES - 1) % len(ips)])["reason"] == "locked"


# ---- item 8: rate-limit keys ------------------------------------------------------------------------------

def test_an_ipv6_address_respelled_is_still_locked(server):
    prefix = _ipv6_64()
    _lock_address(server, [f"{prefix}::1"])
    for spelling in (f"{prefix.upper()}::1", f"{prefix}:0::1", f"{prefix}::1%eth0"):
        assert server.verify_totp(_name("probe"), "000000", spelling)["reason"] == "locked", spelling


def test_another_address_in_a_locked_ipv6_64_is_locked(server):
    prefix = _ipv6_64()
    _lock_address(server, [f"{prefix}::{i + 1:x}" for i in range(IP_FREE_FAILURES)])  # never the same twice
    assert server.verify_totp(_name("probe"), "000000", f"{prefix}:dead:beef:0:1")["reason"] == "locked"


def test_an_address_outside_the_locked_ipv6_64_is_not_locked(server):
    prefix = _ipv6_64()
    _lock_address(server, [f"{prefix}::1"])
    neighbour = prefix.rsplit(":", 1)[0] + f":{(int(prefix.rsplit(':', 1)[1], 16) + 1) % 0xffff:x}"
    assert server.verify_totp(_name("probe"), "000000", f"{neighbour}::1")["reason"] == "invalid"


def test_a_locked_ipv4_address_is_locked_in_its_ipv4_mapped_form(server):
    ip = _fresh_ipv4()
    _lock_address(server, [ip])
    assert server.verify_totp(_name("probe"), "000000", f"::ffff:{ip}")["reason"] == "locked"
    assert server.verify_totp(_name("probe"), "000000", f"::FFFF:{ip}")["reason"] == "locked"


# ---- item 9: enumeration ----------------------------------------------------------------------------------

def test_totp_answers_do_not_tell_unknown_unenrolled_and_wrong_apart(server):
    enrolled, bare = _name("alice"), _name("bob")
    secret = server.enrol_totp(enrolled)
    server.create_user(bare)
    wrong = _wrong_code(secret)
    replies = {who: server.verify_totp(name, wrong, _fresh_ipv4())
               for who, name in (("unknown", _name("ghost")), ("unenrolled", bare), ("wrong", enrolled))}
    assert replies == {who: {"ok": False, "reason": "invalid", "retry_after": None} for who in replies}


def test_backup_code_answers_do_not_tell_unknown_without_codes_and_wrong_apart(server):
    holder, bare = _name("alice"), _name("bob")
    server.create_user(holder)
    server.create_user(bare)
    status, codes = server.call("POST", "/v1/backup-codes/generate", {"username": holder})
    assert status == 200 and len(codes["codes"]) == 10
    wrong = "aaaa-bbbb-cccc"
    replies = {who: server.verify_backup(name, wrong, _fresh_ipv4())
               for who, name in (("unknown", _name("ghost")), ("without codes", bare), ("wrong", holder))}
    assert replies == {who: {"ok": False, "reason": "invalid", "retry_after": None} for who in replies}
    assert server.verify_backup(holder, codes["codes"][0], _fresh_ipv4())["ok"] is True


def test_an_unknown_user_locks_like_a_known_one(server):
    known, unknown = _name("alice"), _name("ghost")
    wrong = _wrong_code(server.enrol_totp(known))
    answers = {}
    for name in (known, unknown):
        replies = [server.verify_totp(name, wrong, _fresh_ipv4()) for _ in range(6)]
        answers[name] = [r["reason"] for r in replies]
    assert answers[known] == answers[unknown] == ["invalid"] * 5 + ["locked"]
