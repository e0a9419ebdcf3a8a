"""``tracker2fa vault add/list/bind --origin``: origins written as the browser writes them, over the real script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORD = "correct horse battery staple"
URI = "otpauth://totp/Shop:ann?secret=KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU&issuer=Shop"


@pytest.fixture
def vault_cli(tmp_path: Path):
    script = shutil.which("tracker2fa") or str(Path(sys.executable).parent / "tracker2fa")
    assert os.access(script, os.X_OK)
    env = {**os.environ, "TRACKER2FA_VAULT": str(tmp_path / "vault.json")}

    def run(*args: str, stdin: str = PASSWORD + "\n") -> subprocess.CompletedProcess[str]:
        return subprocess.run([script, "vault", *args], input=stdin, capture_output=True, text=True, env=env,
                              timeout=120)

    assert run("init", "--password-stdin", "--kdf-cost", "minimum").returncode == 0
    return run


def _listed(run, origin: str) -> list[dict]:
    done = run("list", "--origin", origin, "--json", "--password-stdin")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["entries"]


def test_add_binds_an_idn_origin_as_the_browser_names_it(vault_cli):
    done = vault_cli("add", URI, "--origin", "https://Straße.example/login", "--password-stdin")
    assert done.returncode == 0, done.stderr
    [entry] = _listed(vault_cli, "https://xn--strae-oqa.example")
    assert entry["origins"] == ["https://xn--strae-oqa.example"]
    assert _listed(vault_cli, "https://strasse.example") == []


def test_bind_writes_an_idn_origin_as_the_browser_names_it(vault_cli):
    assert vault_cli("add", URI, "--password-stdin").returncode == 0
    done = vault_cli("bind", "Shop", "https://ΣΟΦΊΑ.example", "--password-stdin")
    assert done.returncode == 0, done.stderr
    [entry] = _listed(vault_cli, "https://xn--kxae4bpq.example")
    assert entry["origins"] == ["https://xn--kxae4bpq.example"]


def test_an_invalid_origin_is_refused_before_the_password_is_read_and_adds_nothing(vault_cli):
    done = vault_cli("add", URI, "--origin", "https://a\u200db.example", "--password-stdin", stdin="")
    assert done.returncode != 0
    assert "joiner" in done.stderr and "password" not in done.stderr.lower()
    listed = vault_cli("list", "--json", "--password-stdin")
    assert json.loads(listed.stdout)["entries"] == []
