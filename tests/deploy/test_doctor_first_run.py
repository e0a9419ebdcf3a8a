"""`tracker2fa doctor` on a first run (the host registered, no vault yet, no browser running): where the vault
path was read from is said on its own line, and the last line says what is left to do, not that everything
is in place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORD = "correct horse battery staple"


@pytest.fixture
def fresh_home(tmp_path: Path) -> dict[str, str]:
    """A user who has just registered the host for Chromium, in a HOME of their own, with no browser running."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER2FA_", "XDG_", "DBUS_"))}
    env["HOME"] = str(home)
    done = subprocess.run([sys.executable, "-m", "native_host", "install", "--browser", "chromium"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return env


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "native_host", "doctor", "--browser", "chromium"], env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_vault_line_says_whose_environment_it_was_read_from(fresh_home):
    done = doctor(fresh_home)
    line = next(line for line in done.stdout.splitlines() if line.startswith("vault (browser):"))
    assert "(this shell's environment: no running browser or desktop session to ask)" in line
    assert "unknown" not in done.stdout


def test_a_first_run_without_a_vault_ends_with_the_step_left_not_with_everything_in_place(fresh_home):
    done = doctor(fresh_home)
    assert done.returncode == 0, done.stdout
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("the host is set up; one step left: create your vault with `tracker2fa vault init`")
    assert "everything needed is in place" not in done.stdout


def test_with_a_vault_everything_needed_is_in_place(fresh_home):
    created = subprocess.run([sys.executable, "-m", "native_host", "vault", "init", "--password-stdin",
                              "--kdf-cost", "minimum"], input=PASSWORD + "\n", env=fresh_home, capture_output=True,
                             text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    done = doctor(fresh_home)
    assert done.stdout.strip().splitlines()[-1] == "everything needed is in place"
