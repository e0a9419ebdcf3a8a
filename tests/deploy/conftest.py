"""Fixtures for the deployment suite: a temporary HOME, fake roots for other OSes, the real host executable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def host_executable() -> str:
    """The installed ``tracker2fa-host`` console script, as a browser's manifest names it."""
    found = shutil.which("tracker2fa-host") or str(Path(sys.executable).parent / "tracker2fa-host")
    assert os.access(found, os.X_OK), f"tracker2fa-host is not installed next to {sys.executable}"
    return found


def tree(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` (relative path → content, or "<dir>"): to compare snapshots."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = "<dir>" if path.is_dir() else path.read_bytes().decode("latin-1")
    return out


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp HOME with the host config and vault inside the temp dir, as a fresh user would have."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("TRACKER2FA_CONFIG", str(tmp_path / "host.json"))
    monkeypatch.setenv("TRACKER2FA_VAULT", str(tmp_path / "vault.json"))
    return home


NOBODY = 65534  # `nobody`: a real other user, so ownership checks meet a real other uid (the tests run as root)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A root-owned 0755 folder under /tmp that other users can reach (pytest's tmp_path is 0700), removed after."""
    if os.geteuid() != 0:
        pytest.skip("needs root: files owned by another user are made with chown")
    folder = Path(tempfile.mkdtemp(prefix="tracker2fa-trust-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def owned_by(path: Path, uid: int, mode: int | None = None) -> Path:
    """``path`` handed to ``uid`` (and its group), with ``mode`` when given."""
    os.chown(path, uid, uid, follow_symlinks=False)
    if mode is not None:
        path.chmod(mode)
    return path


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; on failure, fail with its output (the build steps below say what broke)."""
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False, **kw)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` output (wheel and sdist) plus every dependency as a wheel (`pip wheel`): the folder an
    admin copies to offline machines. Built once per session; the dependencies come from the package index."""
    out = tmp_path_factory.mktemp("dist")
    leftovers = [REPO / "build", REPO / "tracker2fa.egg-info"]  # what setuptools writes into the checkout
    existed = {path: path.exists() for path in leftovers}
    try:
        run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, REPO])
    finally:
        for path, was_there in existed.items():
            if not was_there:
                shutil.rmtree(path, ignore_errors=True)
    (wheel,) = out.glob("tracker2fa-*.whl")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "-w", out, wheel])
    return out


@pytest.fixture(scope="session")
def deb(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tracker2fa pack --deb`` from that wheel, offline (its dependencies from the same folder)."""
    out = tmp_path_factory.mktemp("deb")
    (wheel,) = dist.glob("tracker2fa-*.whl")
    tracker2fa = Path(sys.executable).with_name("tracker2fa")
    run([tracker2fa, "pack", "--deb", "--wheel", wheel, "--wheelhouse", dist, "--out", out])
    (package,) = out.glob("tracker2fa_*.deb")
    return package
