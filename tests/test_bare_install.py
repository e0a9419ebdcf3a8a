"""A bare ``pip install tracker2fa`` (no extras) is the user's machine: the host answers ``hello`` and a vault
code over its real pipes, the vault CLI works, and the server and developer commands name the extra they need.

The venv is built once per pyproject.toml (and Python version) under the temp directory, with the base
dependencies resolved by pip as a user's install would; each session reinstalls the package itself from a
copy of the current sources (never building inside the checkout, which other processes use).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest

from native_host import DEV_EXTENSION_ID

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
JIRA = "https://jira.example.com"
SERVER_AND_TOOLS = ("fastapi", "starlette", "uvicorn", "pyotp", "segno", "psycopg", "playwright", "websockets")
TIMEOUT = 600  # generous: pip resolving and building on a loaded 2-core machine; never a timing assertion


@dataclass(frozen=True)
class BareInstall:
    bin: Path

    def run(self, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin / args[0]), *args[1:]], input=stdin, capture_output=True, text=True,
                              env=env, timeout=TIMEOUT, cwd=self.bin.parent)


def _pip(python: Path, *args: str) -> None:
    done = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def _copy_sources(target: Path) -> Path:
    """The files a wheel is built from, copied out of the checkout."""
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, target / name)
    for package in ("native_host", "verifier"):
        shutil.copytree(REPO / package, target / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


@pytest.fixture(scope="session")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BareInstall]:
    key = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + sys.version.encode()).hexdigest()[:16]
    venv = Path(tempfile.gettempdir()) / f"tracker2fa-bare-{key}"
    python = venv / "bin" / "python"
    with open(f"{venv}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once share the venv, one at a time
        src = _copy_sources(tmp_path_factory.mktemp("bare-src"))
        if not (venv / "ready").exists():
            for stale in venv.parent.glob("tracker2fa-bare-*"):  # built for an older pyproject.toml
                if stale.is_dir() and stale != venv:
                    shutil.rmtree(stale, ignore_errors=True)
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=TIMEOUT)
            _pip(python, "install", str(src))  # as a user would: the package and its base dependencies
            (venv / "ready").write_text(key)
        else:
            _pip(python, "install", "--no-deps", "--force-reinstall", str(src))  # today's sources
        yield BareInstall(venv / "bin")


@pytest.fixture
def vault(bare: BareInstall, tmp_path: Path) -> dict[str, str]:
    """The environment of a user whose vault (in a temp HOME) holds one TOTP entry bound to Jira."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "TRACKER2FA_VAULT": str(tmp_path / "v.json")}
    init = bare.run("tracker2fa", "vault", "init", "--password-stdin", "--kdf-cost", "minimum",
                    stdin=PASSWORD + "\n", env=env)
    assert init.returncode == 0, init.stderr
    uri = f"otpauth://totp/Jira:ann?secret={SECRET}&issuer=Jira"
    added = bare.run("tracker2fa", "vault", "add", uri, "--origin", JIRA, "--password-stdin", stdin=PASSWORD + "\n",
                     env=env)
    assert added.returncode == 0, added.stderr
    return env


def test_a_bare_install_brings_no_server_or_browser_automation_package(bare: BareInstall) -> None:
    probe = ("import importlib.util, json; "
             f"print(json.dumps([m for m in {SERVER_AND_TOOLS!r} if importlib.util.find_spec(m)]))")
    done = bare.run("python", "-c", probe)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


class Pipes:
    """Native-messaging frames over the host's real stdin and stdout."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.next_id = 0

    def call(self, method: str, **params: object) -> dict:
        self.next_id += 1
        body = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(struct.pack("=I", len(body)) + body)
        self.proc.stdin.flush()
        while True:  # events (vault.unlocked) may come before the reply
            header = self.proc.stdout.read(4)
            assert len(header) == 4, "the host closed its stdout"
            frame = json.loads(self.proc.stdout.read(struct.unpack("=I", header)[0]))
            if frame.get("id") == self.next_id and "event" not in frame:
                return frame


@contextlib.contextmanager
def host(bare: BareInstall, env: dict[str, str]) -> Iterator[Pipes]:
    proc = subprocess.Popen([str(bare.bin / "tracker2fa-host"), f"chrome-extension://{DEV_EXTENSION_ID}/"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        yield Pipes(proc)
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(timeout=60)
        stderr = proc.stderr.read().decode()  # type: ignore[union-attr]
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
        assert "Traceback" not in stderr, stderr


def test_the_bare_host_answers_hello_and_a_vault_code_over_its_pipes(bare: BareInstall, vault: dict) -> None:
    with host(bare, vault) as pipes:
        hello = pipes.call("hello")["result"]
        assert hello["version"]
        assert pipes.call("vault.unlock", password=PASSWORD)["result"]["unlocked"] is True
        [entry] = pipes.call("vault.entries", origin=JIRA)["result"]["entries"]
        reply = pipes.call("vault.code", id=entry["id"], origin=JIRA)["result"]
    assert pyotp.TOTP(SECRET).verify(reply["code"], valid_window=1)  # an independent RFC 6238 implementation


def test_the_bare_cli_prints_the_same_code_as_the_host_would(bare: BareInstall, vault: dict) -> None:
    done = bare.run("tracker2fa", "vault", "code", "Jira", "--password-stdin", stdin=PASSWORD + "\n", env=vault)
    assert done.returncode == 0, done.stderr
    assert pyotp.TOTP(SECRET).verify(done.stdout.split()[0], valid_window=1)


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        (["verifier", "serve"], "verifier"),
        (["verifier", "admin", "list-users"], "verifier"),
        (["mock", "--port", "0"], "verifier"),
        (["try", "http://localhost:8080/login"], "devtools"),
        (["try", "http://localhost:8080/login", "--browser", "firefox"], "devtools"),
    ],
)
def test_a_bare_install_names_the_extra_a_server_or_developer_command_needs(
    bare: BareInstall, tmp_path: Path, command: list[str], extra: str
) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "TRACKER2FA_SERVICE_TOKEN": "x" * 32}
    done = bare.run("tracker2fa", *command, env=env)
    assert done.returncode == 1
    first = done.stderr.strip().splitlines()[0]
    assert first.startswith(f"tracker2fa: error: tracker2fa {command[0]} needs the '{extra}' extra: "
                            f"pip install 'tracker2fa[{extra}]' (missing module: "), done.stderr
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_the_bare_command_lists_every_sub_command(bare: BareInstall) -> None:
    done = bare.run("tracker2fa", "--help")
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.splitlines() if line.startswith("    ")}
    assert {"vault", "install", "doctor", "try", "verifier", "mock"} <= listed
