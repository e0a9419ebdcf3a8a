"""``tracker2fa verifier admin …`` in-process, and ``tracker2fa verifier serve`` as a real process."""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from native_host.cli import main

from .conftest import admin


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
                                             "remember_days": 7, "totp_digits": 6, "totp_period": 30,
                                             "totp_algorithm": "SHA1", "totp_window": 1, "issuer": "",
                                             "enrol_deadline": None}


def test_a_bad_policy_fails_with_a_message_and_changes_nothing(db, capsys):
    code, _, err = admin(db, "set-policy", "--mode", "all", "--allow", "10.0.0.0/40", capsys=capsys)
    assert code == 1 and "network" in err
    _, out, _ = admin(db, "show-policy", capsys=capsys)
    assert json.loads(out)["ip_allowlist"] == []


def test_set_policy_sets_the_totp_settings_and_show_policy_shows_them(db, capsys):
    code, _, _ = admin(db, "set-policy", "--totp-digits", "8", "--totp-period", "60", "--totp-algorithm", "sha256",
                       "--totp-window", "2", "--issuer", "Acme Jira", capsys=capsys)
    assert code == 0
    _, out, _ = admin(db, "show-policy", capsys=capsys)
    assert json.loads(out) == {"mode": "all", "groups": [], "ip_allowlist": [], "remember_days": 0,
                               "totp_digits": 8, "totp_period": 60, "totp_algorithm": "SHA256", "totp_window": 2,
                               "issuer": "Acme Jira", "enrol_deadline": None}


def test_each_set_policy_option_changes_its_setting_and_keeps_the_others(db, capsys):
    admin(db, "set-policy", "--mode", "groups", "--group", "dev", "--remember-days", "7", "--totp-digits", "8",
          capsys=capsys)
    admin(db, "set-policy", "--totp-window", "3", capsys=capsys)
    _, out, _ = admin(db, "set-policy", "--mode", "all", capsys=capsys)
    policy = json.loads(out)
    assert (policy["mode"], policy["groups"], policy["remember_days"], policy["totp_digits"],
            policy["totp_window"]) == ("all", [], 7, 8, 3)


@pytest.mark.parametrize(("option", "value", "range_text"), [
    ("--totp-digits", "9", "totp_digits must be a whole number from 6 to 8, got 9"),
    ("--totp-period", "10", "totp_period must be a whole number from 15 to 300 seconds, got 10"),
    ("--totp-algorithm", "MD5", "totp_algorithm must be one of SHA1, SHA256, SHA512, got 'MD5'"),
    ("--totp-window", "11", "totp_window must be a whole number from 0 to 10 steps, got 11"),
    ("--issuer", "Acme:Jira", "issuer must be at most 100 printable characters without ':'"),
])
def test_set_policy_refuses_an_out_of_range_totp_setting_with_its_range_and_stores_nothing(db, capsys, option,
                                                                                          value, range_text):
    _, before, _ = admin(db, "show-policy", capsys=capsys)
    code, out, err = admin(db, "set-policy", "--remember-days", "5", option, value, capsys=capsys)
    assert code == 1 and out == "" and range_text in err
    assert admin(db, "show-policy", capsys=capsys)[1] == before


def test_set_policy_with_nothing_to_change_says_so(db, capsys):
    code, _, err = admin(db, "set-policy", capsys=capsys)
    assert code == 1 and "nothing to change" in err


def test_set_policy_refuses_groups_without_a_mode(db, capsys):
    code, _, err = admin(db, "set-policy", "--group", "dev", capsys=capsys)
    assert code == 1 and "--group and --allow go with --mode" in err


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


def test_serve_generates_the_service_token_beside_the_database_and_never_prints_it(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER2FA_")}
    env["PYTHONPATH"] = os.getcwd()
    proc = subprocess.Popen([sys.executable, "-m", "native_host", "verifier", "serve", "--db",
                             f"sqlite:///{tmp_path / 'v.db'}", "--port", str(port)],
                            stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    token_file = tmp_path / "v.db.service-token"
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30  # until the server answers: the token line is printed before that
        while not _answers(port):
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        reader.join(timeout=10)
    err = "".join(lines)
    assert f"service token in {token_file}" in err
    assert token_file.read_text().strip() not in err


def _answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def test_serve_refuses_a_short_service_token(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TRACKER2FA_")},
           "PYTHONPATH": os.getcwd(), "TRACKER2FA_SERVICE_TOKEN": "short"}
    out = subprocess.run([sys.executable, "-m", "native_host", "verifier", "serve", "--db",
                          f"sqlite:///{tmp_path / 'v.db'}", "--port", str(_free_port())],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode != 0
    assert "service token must be 16-512 printable ASCII characters" in out.stderr


def test_a_new_database_with_its_wal_and_shm_is_0600_in_a_new_0700_directory_under_umask_022(tmp_path, capsys,
                                                                                             monkeypatch):
    from verifier.store import open_store

    monkeypatch.delenv("TRACKER2FA_VERIFIER_KEY", raising=False)
    db_path = tmp_path / "fresh" / "nested" / "verifier.db"
    previous = os.umask(0o022)
    try:
        _created_by_a_verifier(f"sqlite:///{db_path}")
        assert main(["verifier", "admin", "--db", f"sqlite:///{db_path}", "create-user", "alice"]) == 0
        store = open_store(f"sqlite:///{db_path}")
        try:
            assert store.list_users() == ["alice"]  # an open connection: the WAL and SHM files exist now
            files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in db_path.parent.iterdir()}
        finally:
            store.close()
    finally:
        os.umask(previous)
    assert files == {"verifier.db": 0o600, "verifier.db-wal": 0o600, "verifier.db-shm": 0o600,
                     "verifier.db-writer": 0o600, "verifier.db.key": 0o600}
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(db_path.parent.parent.stat().st_mode) == 0o700


labels = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)


@given(st.lists(labels, min_size=1, max_size=4), st.sampled_from(["127.0.0.1", "::1", "10.1.2.3", "0.0.0.0"]))
def test_allowed_hosts_keep_localhost_and_add_the_listen_address_and_the_named_hosts(parts, listen):
    from verifier.cli.verifier_cmd import allowed_hosts

    name = ".".join(parts)
    hosts = allowed_hosts(listen, [name.upper(), f"*.{name}"])
    assert {"localhost", name, f"*.{name}"} <= set(hosts)
    assert len(hosts) == len(set(hosts))
    if listen == "10.1.2.3":
        assert "10.1.2.3" in hosts
    if listen == "::1":
        assert "[::1]" in hosts


@pytest.mark.parametrize("bad", ["", "a*b", "*x.example", "**.example"])
def test_a_malformed_allowed_host_is_a_clear_error(bad):
    from verifier.cli.verifier_cmd import allowed_hosts
    from verifier.errors import BadRequest

    with pytest.raises(BadRequest, match="--allowed-host wants"):
        allowed_hosts("127.0.0.1", [bad])


def test_a_database_path_that_cannot_be_created_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    # serve creates its database (admin commands never do): it fails here before listening.
    code = main(["verifier", "serve", "--port", "0", "--db", f"sqlite:///{blocker / 'sub' / 'v.db'}"])
    assert code == 1
    assert "cannot create the database" in capsys.readouterr().err


@pytest.mark.postgres
def test_serve_on_postgresql_without_a_service_token_is_refused_before_touching_the_database(pg_database):
    import psycopg

    from .conftest import new_pg_schema_url

    url, schema = new_pg_schema_url(pg_database)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TRACKER2FA_")}, "PYTHONPATH": os.getcwd(),
           "TRACKER2FA_VERIFIER_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
    out = subprocess.run([sys.executable, "-m", "native_host", "verifier", "serve", "--db", url,
                          "--port", str(_free_port())], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 1
    assert "no service token: set TRACKER2FA_SERVICE_TOKEN or pass --service-token-stdin" in out.stderr
    with psycopg.connect(pg_database) as conn:
        tables = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                              (schema,)).fetchone()[0]
    assert tables == 0


# ---- admin commands never create a database (issue 12 item 5) ---------------------------------------------


def _created_by_a_verifier(url: str) -> None:
    """What `verifier serve` or `mock` does first: the schema, and for SQLite without $KEY a key file."""
    from verifier.service import Verifier, VerifierSettings
    from verifier.store import open_store

    Verifier(open_store(url), VerifierSettings()).store.close()


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """An empty per-user data directory (platformdirs reads XDG_DATA_HOME) and no server key in the environment."""
    home = tmp_path / "data"
    home.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.delenv("TRACKER2FA_VERIFIER_KEY", raising=False)
    return home


def test_admin_without_db_and_no_verifier_database_creates_nothing_and_names_the_mocks(data_home, capsys):
    code = main(["verifier", "admin", "list-users"])
    _, err = capsys.readouterr()
    assert code == 1
    assert f"no verifier database at {data_home / 'tracker2fa' / 'verifier.db'} (the default without --db)" in err
    assert f"The mock tracker's database is {data_home / 'tracker2fa' / 'mock-verifier.db'}" in err
    assert list(data_home.iterdir()) == []  # no database, no key, not even the directory


def test_the_admin_command_the_error_names_opens_the_mocks_database(data_home, capsys):
    mock_db = data_home / "tracker2fa" / "mock-verifier.db"
    _created_by_a_verifier(f"sqlite:///{mock_db}")
    assert main(["verifier", "admin", "--db", f"sqlite:///{mock_db}", "create-user", "bob"]) == 0
    capsys.readouterr()
    assert main(["verifier", "admin", "list-users"]) == 1
    err = capsys.readouterr().err
    assert f"{mock_db} (it exists)" in err
    command = err.split("(it exists): ", 1)[1].split(". A verifier", 1)[0]
    assert command == f"tracker2fa verifier admin --db sqlite:///{mock_db} list-users"
    assert main(command.split()[1:]) == 0
    assert json.loads(capsys.readouterr().out) == {"users": ["bob"]}
    assert not (data_home / "tracker2fa" / "verifier.db").exists()


@pytest.mark.parametrize("action", [["list-users"], ["create-user", "alice"], ["show-policy"],
                                    ["set-policy", "--mode", "none"]])
def test_admin_with_a_db_path_that_does_not_exist_creates_nothing(tmp_path, data_home, capsys, action):
    missing = tmp_path / "typo" / "verifier.db"
    code = main(["verifier", "admin", "--db", f"sqlite:///{missing}", *action])
    err = capsys.readouterr().err
    assert code == 1 and f"no verifier database at {missing};" in err and "never create" in err
    assert not missing.parent.exists()


def test_admin_on_a_database_whose_key_is_missing_creates_no_new_key(tmp_path, data_home, capsys):
    path = tmp_path / "verifier.db"
    _created_by_a_verifier(f"sqlite:///{path}")
    Path(f"{path}.key").unlink()  # e.g. the server runs with $TRACKER2FA_VERIFIER_KEY
    code = main(["verifier", "admin", "--db", f"sqlite:///{path}", "list-users"])
    err = capsys.readouterr().err
    assert code == 1 and "has no key file verifier.db.key" in err and "TRACKER2FA_VERIFIER_KEY" in err
    assert not Path(f"{path}.key").exists()


def test_admin_on_an_empty_database_creates_no_tables(store_url, server_key, monkeypatch, capsys):
    # SQLite: the file does not exist; PostgreSQL: the schema exists but holds no verifier tables.
    monkeypatch.setenv("TRACKER2FA_VERIFIER_KEY", base64.b64encode(server_key).decode())
    code = main(["verifier", "admin", "--db", store_url, "create-user", "alice"])
    err = capsys.readouterr().err
    assert code == 1 and "never create" in err, err
    if store_url.startswith("sqlite:///"):
        assert not Path(store_url[len("sqlite:///"):]).exists()
    else:
        import psycopg

        with psycopg.connect(store_url) as conn:
            assert conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None
