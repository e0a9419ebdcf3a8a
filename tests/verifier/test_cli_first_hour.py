"""What an admin meets first with ``tracker2fa verifier`` (issue 21, items 7-9): a port in use is said in one
line before anything is created, the admin token is held to the service token's rule, ``admin init`` creates
the database an import needs, and ``--db`` works before or after the action's name."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from native_host.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`:DeprecationWarning")
CSV = "username,secret\ncarol,JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n"


def serve(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER2FA_")}
    return subprocess.run([sys.executable, "-m", "native_host", "verifier", "serve", "--workers", "1", "--db",
                           f"sqlite:///{tmp_path / 'v.db'}", *args], input=stdin, capture_output=True, text=True,
                          env={**base, **(env or {})}, timeout=60)


def test_serve_on_a_port_in_use_says_so_in_one_line_exits_1_and_creates_nothing(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = serve(tmp_path, "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.strip() == (f"tracker2fa: error: cannot listen on 127.0.0.1:{port}: Address already in use; "
                                   "choose another --port (nothing was created)")
    assert list(tmp_path.iterdir()) == []  # no database, key or service-token file


def test_serve_refuses_a_port_out_of_range_before_creating_anything(tmp_path):
    done = serve(tmp_path, "--port", "70000")
    assert done.returncode == 1 and "--port must be 0-65535, got 70000" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", ["env", "stdin"])
def test_a_short_admin_token_is_refused_with_how_to_make_one_and_nothing_is_created(tmp_path, how):
    if how == "env":
        done = serve(tmp_path, "--port", "0", env={"TRACKER2FA_ADMIN_TOKEN": "short"})
    else:
        done = serve(tmp_path, "--port", "0", "--admin-token-stdin", stdin="short\n")
    assert done.returncode == 1
    assert "the admin token must be 16-512 printable ASCII characters without spaces" in done.stderr
    assert "secrets.token_urlsafe(32)" in done.stderr  # how to make one
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_admin_token_with_a_space_is_refused(tmp_path):
    done = serve(tmp_path, "--port", "0", env={"TRACKER2FA_ADMIN_TOKEN": "a token with spaces in it"})
    assert done.returncode == 1 and "admin token must be" in done.stderr


@pytest.fixture
def no_key(monkeypatch):
    monkeypatch.delenv("TRACKER2FA_VERIFIER_KEY", raising=False)


def test_admin_init_creates_the_database_and_its_key_so_the_first_import_works(tmp_path, capsys, no_key):
    url = f"sqlite:///{tmp_path / 'new' / 'v.db'}"
    assert main(["verifier", "admin", "--db", url, "init"]) == 0
    out = capsys.readouterr().out
    assert f"created the verifier database {url}" in out and "import FILE" in out
    assert (tmp_path / "new" / "v.db").is_file() and (tmp_path / "new" / "v.db.key").is_file()
    seeds = tmp_path / "seeds.csv"
    seeds.write_text(CSV)
    assert main(["verifier", "admin", "--db", url, "import", str(seeds)]) == 0
    capsys.readouterr()
    assert main(["verifier", "admin", "--db", url, "list-users"]) == 0
    assert json.loads(capsys.readouterr().out) == {"users": ["carol"]}


def test_admin_init_on_an_existing_database_changes_nothing(tmp_path, capsys, no_key):
    url = f"sqlite:///{tmp_path / 'v.db'}"
    assert main(["verifier", "admin", "--db", url, "init"]) == 0
    key = (tmp_path / "v.db.key").read_bytes()
    assert main(["verifier", "admin", "--db", url, "create-user", "dave"]) == 0
    capsys.readouterr()
    assert main(["verifier", "admin", "--db", url, "init"]) == 0
    assert "exists already; nothing to do" in capsys.readouterr().out
    assert (tmp_path / "v.db.key").read_bytes() == key
    assert main(["verifier", "admin", "--db", url, "list-users"]) == 0
    assert json.loads(capsys.readouterr().out) == {"users": ["dave"]}


def test_admin_init_refuses_a_database_whose_key_is_missing(tmp_path, capsys, no_key):
    url = f"sqlite:///{tmp_path / 'v.db'}"
    assert main(["verifier", "admin", "--db", url, "init"]) == 0
    (tmp_path / "v.db.key").unlink()  # a new key would make every sealed secret unreadable
    assert main(["verifier", "admin", "--db", url, "init"]) == 1
    assert "has no key file v.db.key" in capsys.readouterr().err
    assert not (tmp_path / "v.db.key").exists()


def test_an_admin_command_on_a_missing_database_names_init(tmp_path, capsys, no_key):
    missing = tmp_path / "v.db"
    assert main(["verifier", "admin", "--db", f"sqlite:///{missing}", "list-users"]) == 1
    assert f"`tracker2fa verifier admin --db sqlite:///{missing} init`" in capsys.readouterr().err
    assert not missing.exists()


@pytest.mark.parametrize("where", ["before", "after"])
def test_db_is_accepted_before_or_after_the_action(tmp_path, capsys, no_key, where):
    url = f"sqlite:///{tmp_path / 'v.db'}"
    assert main(["verifier", "admin", "init", "--db", url]) == 0
    seeds = tmp_path / "seeds.csv"
    seeds.write_text(CSV)
    argv = (["verifier", "admin", "--db", url, "import", str(seeds)] if where == "before"
            else ["verifier", "admin", "import", str(seeds), "--db", url])
    assert main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(["verifier", "admin", "list-users", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out) == {"users": ["carol"]}


def test_the_401_for_the_tracker_endpoints_says_where_the_service_token_is(tmp_path, no_key):
    from fastapi.testclient import TestClient

    from verifier.http import create_app
    from verifier.service import Verifier, VerifierSettings
    from verifier.settings import ApiSettings
    from verifier.store import open_store

    verifier = Verifier(open_store(f"sqlite:///{tmp_path / 'v.db'}"), VerifierSettings())
    app = create_app(verifier, ApiSettings(service_token="s" * 20))
    with TestClient(app, base_url="http://localhost") as client:
        reply = client.post("/v1/totp/verify", json={"username": "a", "code": "123456", "ip": "192.0.2.1"})
    verifier.store.close()
    assert reply.status_code == 401
    message = reply.json()["error"]["message"]
    assert "Authorization: Bearer TOKEN" in message and "<database>.service-token" in message
    assert str(tmp_path) not in message  # no server path to a caller who proved nothing
