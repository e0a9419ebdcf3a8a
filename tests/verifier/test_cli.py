"""``tracker2fa verifier admin …`` in-process, and ``tracker2fa verifier serve`` as a real process."""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from native_host.cli import main


@pytest.fixture
def db(store_url, server_key, monkeypatch) -> str:
    monkeypatch.setenv("TRACKER2FA_VERIFIER_KEY", base64.b64encode(server_key).decode())
    return store_url


def admin(db: str, *args: str, capsys) -> tuple[int, str, str]:
    code = main(["verifier", "admin", "--db", db, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_create_user_with_groups(db, capsys):
    code, out, _ = admin(db, "create-user", "alice", "--group", "dev", "--group", "ops", capsys=capsys)
    assert code == 0 and json.loads(out)["groups"] == ["dev", "ops"]


def test_create_user_reads_the_password_from_stdin(db, capsys, monkeypatch, store):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret pass\n"))
    admin(db, "create-user", "alice", "--password-stdin", capsys=capsys)
    from verifier.service import Verifier

    assert Verifier(store).check_password("alice", "s3cret pass")


def test_add_to_group_and_set_policy(db, capsys):
    admin(db, "create-user", "alice", capsys=capsys)
    admin(db, "add-to-group", "alice", "dev", capsys=capsys)
    code, out, _ = admin(db, "set-policy", "--mode", "groups", "--group", "dev", "--allow", "10.0.0.0/8",
                         "--remember-days", "7", capsys=capsys)
    assert code == 0 and json.loads(out) == {"mode": "groups", "groups": ["dev"], "ip_allowlist": ["10.0.0.0/8"],
                                             "remember_days": 7}


def test_a_bad_policy_fails_with_a_message_and_changes_nothing(db, capsys):
    code, _, err = admin(db, "set-policy", "--mode", "all", "--allow", "10.0.0.0/40", capsys=capsys)
    assert code == 1 and "network" in err
    _, out, _ = admin(db, "show-policy", capsys=capsys)
    assert json.loads(out)["ip_allowlist"] == []


def test_exclude_until_a_date(db, capsys):
    admin(db, "create-user", "alice", capsys=capsys)
    code, out, _ = admin(db, "exclude", "alice", "--until", "2999-01-01", capsys=capsys)
    assert code == 0 and json.loads(out)["required"] is False


def test_exclude_rejects_a_bad_date(db, capsys):
    admin(db, "create-user", "alice", capsys=capsys)
    code, _, err = admin(db, "exclude", "alice", "--until", "next tuesday", capsys=capsys)
    assert code == 1 and "YYYY-MM-DD" in err


def test_reset_user_and_group(db, capsys):
    admin(db, "create-user", "alice", "--group", "dev", capsys=capsys)
    assert admin(db, "reset-user", "alice", capsys=capsys)[0] == 0
    _, out, _ = admin(db, "reset-group", "dev", capsys=capsys)
    assert json.loads(out) == {"reset": ["alice"]}


def test_unlock_lifts_a_lockout(db, capsys, store):
    admin(db, "create-user", "alice", capsys=capsys)
    store.add_failure("user:alice")
    store.set_locked_until("user:alice", 9e9)
    code, out, _ = admin(db, "unlock", "alice", "--ip", "192.0.2.1", capsys=capsys)
    assert code == 0 and json.loads(out)["locked_until"] is None


def test_unknown_user_is_a_clear_error(db, capsys):
    code, _, err = admin(db, "reset-user", "ghost", capsys=capsys)
    assert code == 1 and "ghost" in err


def test_audit_prints_events(db, capsys):
    admin(db, "create-user", "alice", capsys=capsys)
    _, out, _ = admin(db, "audit", "--json", capsys=capsys)
    assert json.loads(out.splitlines()[-1])["event"] == "user_created"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_the_api_with_an_admin_token_from_stdin(tmp_path):
    port = _free_port()
    token = secrets.token_urlsafe(16)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    launcher = "import sys; from native_host.cli import main; sys.exit(main())"
    proc = subprocess.Popen([sys.executable, "-c", launcher, "verifier", "serve", "--db",
                             f"sqlite:///{tmp_path / 'v.db'}", "--port", str(port), "--admin-token-stdin"],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        proc.stdin.write(token + "\n")
        proc.stdin.close()
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                    assert json.load(reply)["status"] == "ok"
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/admin/users",
                                         headers={"authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert json.load(reply) == {"users": []}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert token not in proc.stderr.read()
