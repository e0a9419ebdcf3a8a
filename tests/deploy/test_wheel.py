"""The wheel and sdist `python -m build` makes pass `twine check`, and install offline into a fresh venv outside the
checkout (`pip install --no-index dist/*.whl`, the folder holding every dependency's wheel too), where the host
answers `hello` and the CLI works, loading nothing from the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from native_host import DEV_EXTENSION_ID, __version__

from .conftest import REPO, run

# Debian's interpreter, as an admin following the guide uses it (python3-venv gives it `venv` with pip).
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="module")
def fresh_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    place = tmp_path_factory.mktemp("elsewhere")
    assert REPO not in place.parents
    venv = place / "venv"
    run([SYSTEM_PYTHON, "-m", "venv", venv])
    # Offline: no index, and none of this machine's pip configuration (its extra indexes and find-links).
    env = {"PATH": "/usr/bin:/bin", "HOME": str(place), "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"}
    wheels = sorted(str(p) for p in dist.glob("*.whl"))
    pip = [venv / "bin" / "pip", "install", "-q", "--no-index", "--disable-pip-version-check"]
    run([*pip, *wheels], env=env, cwd=place)
    return venv


def test_build_makes_a_wheel_and_an_sdist_that_twine_check_passes(dist):
    wheel = dist / f"tracker2fa-{__version__}-py3-none-any.whl"
    sdist = dist / f"tracker2fa-{__version__}.tar.gz"
    assert wheel.is_file() and sdist.is_file()
    done = run([sys.executable, "-m", "twine", "check", "--strict", wheel, sdist])
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_the_installed_package_comes_from_the_venv_not_the_checkout(fresh_venv):
    done = run([fresh_venv / "bin" / "python", "-c", "import native_host; print(native_host.__file__)"], cwd="/")
    loaded = Path(done.stdout.strip())
    assert fresh_venv in loaded.parents
    assert REPO not in loaded.parents


def test_the_host_from_the_wheel_answers_hello(fresh_venv, tmp_path):
    body = json.dumps({"id": 1, "method": "hello", "params": {}}).encode()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TRACKER2FA_CONFIG": str(tmp_path / "host.json")}
    done = subprocess.run(
        [fresh_venv / "bin" / "tracker2fa-host", f"chrome-extension://{DEV_EXTENSION_ID}/"],
        input=len(body).to_bytes(4, sys.byteorder) + body,
        capture_output=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    size = int.from_bytes(done.stdout[:4], sys.byteorder)
    reply = json.loads(done.stdout[4 : 4 + size])
    assert reply["id"] == 1
    assert reply["result"]["version"] == __version__, done.stderr


def test_the_cli_from_the_wheel_creates_and_reads_a_vault(fresh_venv, tmp_path):
    cli = fresh_venv / "bin" / "tracker2fa"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    vault = tmp_path / "vault.json"
    common = ["--vault", vault, "--password-stdin"]
    run([cli, "vault", "init", *common, "--allow-weak-password", "--kdf-cost", "minimum"], input="pw\n", env=env)
    done = run([cli, "vault", "list", *common, "--json"], input="pw\n", env=env)
    assert json.loads(done.stdout) == {"entries": []}


def test_a_command_whose_extra_is_not_installed_says_which(fresh_venv, tmp_path):
    cmd = [fresh_venv / "bin" / "tracker2fa", "mock", "--port", "0"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "needs the 'verifier' extra" in done.stderr
