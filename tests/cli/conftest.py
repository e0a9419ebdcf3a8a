"""Fixtures for the CLI suite: run ``tracker2fa`` in-process with a given stdin, or as the real script."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "violet kettle orbit saffron"  # strong enough for vault init/passwd (zxcvbn score 4)
SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
JIRA = "https://jira.example.com"
JIRA_URI = f"otpauth://totp/Jira:ann?secret={SECRET}&issuer=Jira"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    return tmp_path / "vault.json"


@pytest.fixture
def cli(vault_path, capsys, monkeypatch):
    """``cli(*args, stdin="...")`` runs ``tracker2fa vault ARGS --vault PATH`` in-process."""
    from native_host.cli import main

    def run(*args: str, stdin: str = PASSWORD + "\n", vault: Path | None = None) -> Result:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main(["vault", *args, "--vault", str(vault or vault_path)])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def initialised(cli) -> None:
    """A minimum-KDF vault holding the Jira entry."""
    assert cli("init", "--password-stdin", "--kdf-cost", "minimum").code == 0
    assert cli("add", JIRA_URI, "--origin", JIRA, "--password-stdin").code == 0


@pytest.fixture
def script() -> str:
    found = shutil.which("tracker2fa") or str(Path(sys.executable).parent / "tracker2fa")
    assert os.access(found, os.X_OK)
    return found


def run_script(
    script: str, *args: str, stdin: str | None, env_vault: Path, address_space: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``tracker2fa`` script; ``address_space`` caps its memory (bytes) so a runaway fails fast."""
    env = {**os.environ, "TRACKER2FA_VAULT": str(env_vault)}

    def cap_memory() -> None:
        if address_space is not None:
            import resource  # POSIX only

            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    return subprocess.run(
        [script, *args], input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True, text=True, env=env, timeout=120, preexec_fn=cap_memory,
    )
