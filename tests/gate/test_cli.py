"""``tracker2fa gate``: check-config says what a file sets up or names the wrong line; serve refuses a bad
file before anything starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .support import REPO

GOOD = '[[domains]]\ndomain = "example.com"\nportal = "https://auth.example.com"\n'


def tracker2fa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "native_host", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120)


def test_check_config_says_what_the_file_sets_up(tmp_path: Path) -> None:
    (tmp_path / "gate.toml").write_text(GOOD)
    done = tracker2fa("gate", "check-config", str(tmp_path / "gate.toml"))
    assert done.returncode == 0
    assert "OK (domains: example.com (portal https://auth.example.com); first factor: local; 0 access rules, " \
           "default deny" in done.stdout


def test_check_config_names_the_line_of_a_mistake(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(GOOD + '[access_control]\ndefault_polcy = "bypass"\n')
    done = tracker2fa("gate", "check-config", str(path))
    assert done.returncode == 1
    assert done.stderr.strip() == (f"tracker2fa: error: {path}:5: access_control.default_polcy: unknown key "
                                   "(known here: default_policy, rules)")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    done = tracker2fa("gate", "check-config", str(tmp_path / "nope.toml"))
    assert done.returncode == 1 and "cannot read the gate configuration" in done.stderr and "nope.toml" in done.stderr


def test_serve_refuses_a_bad_file_before_creating_anything(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    db = tmp_path / "gate.db"
    path.write_text(GOOD + f'[database]\nurl = "sqlite:///{db}"\n[session]\nidle_timeout = "forever"\n')
    done = tracker2fa("gate", "serve", "--config", str(path), "--workers", "1", "--port", "1")
    assert done.returncode == 1 and f"{path}:7: session.idle_timeout" in done.stderr
    assert not db.exists()
