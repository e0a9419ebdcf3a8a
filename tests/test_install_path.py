"""`python3 install.py` leaves a working `tracker2fa` by its bare name (issue 21, item 4): a link in ~/.local/bin
when that folder is on PATH (as pipx does), else the exact line to run. Each test uses a throwaway HOME and the
real `tracker2fa` of this venv, and checks the command found by PATH actually runs."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from native_host import __version__

REPO = Path(__file__).resolve().parent.parent
COMMAND = Path(sys.executable).with_name("tracker2fa")
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


@pytest.fixture(scope="module")
def install_py() -> ModuleType:
    spec = importlib.util.spec_from_file_location("install_py", REPO / "install.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bare_tracker2fa(path: str, *, prefix: str = "") -> subprocess.CompletedProcess[str]:
    """`tracker2fa --version` as a shell finds it on ``path`` (after ``prefix``, a line the user was told to run)."""
    return subprocess.run(["/bin/sh", "-c", f"{prefix}\ntracker2fa --version"],
                          env={"PATH": path, "HOME": "/nonexistent"}, capture_output=True, text=True, timeout=60)


def test_with_local_bin_on_path_a_link_there_makes_the_bare_command_work(install_py, tmp_path):
    path = f"{tmp_path}/.local/bin:{SYSTEM_PATH}"
    assert bare_tracker2fa(path).returncode != 0  # not there before
    told = install_py.put_on_path(COMMAND, tmp_path, path)
    link = tmp_path / ".local" / "bin" / "tracker2fa"
    assert link.is_symlink() and link.resolve() == COMMAND.resolve()
    assert f"linked {link} -> {COMMAND}" in told
    done = bare_tracker2fa(path)
    assert done.returncode == 0 and done.stdout.strip() == f"tracker2fa {__version__}"


def test_a_second_run_finds_the_link_and_changes_nothing(install_py, tmp_path):
    path = f"{tmp_path}/.local/bin:{SYSTEM_PATH}"
    install_py.put_on_path(COMMAND, tmp_path, path)
    link = tmp_path / ".local" / "bin" / "tracker2fa"
    assert install_py.put_on_path(COMMAND, tmp_path, path) == f"`tracker2fa` is on your PATH ({link})"
    assert link.resolve() == COMMAND.resolve()


def test_without_local_bin_on_path_the_line_to_run_is_printed_and_works(install_py, tmp_path):
    told = install_py.put_on_path(COMMAND, tmp_path, SYSTEM_PATH)
    assert not (tmp_path / ".local").exists()  # nothing written where PATH does not look
    line = re.search(r"Run: (export PATH=\S+)", told)
    assert line, told
    done = bare_tracker2fa(SYSTEM_PATH, prefix=line.group(1))
    assert done.returncode == 0 and done.stdout.strip() == f"tracker2fa {__version__}"


def test_a_file_already_at_the_link_is_left_alone_and_the_fix_is_named(install_py, tmp_path):
    local_bin = tmp_path / ".local" / "bin"
    local_bin.mkdir(parents=True)
    (local_bin / "tracker2fa").write_text("#!/bin/sh\necho someone else's\n")
    told = install_py.put_on_path(COMMAND, tmp_path, f"{local_bin}:{SYSTEM_PATH}")
    assert (local_bin / "tracker2fa").read_text() == "#!/bin/sh\necho someone else's\n"
    assert f"ln -sf {COMMAND} {local_bin / 'tracker2fa'}" in told


def test_already_on_path_nothing_is_linked(install_py, tmp_path):
    path = f"{COMMAND.parent}:{tmp_path}/.local/bin:{SYSTEM_PATH}"
    assert install_py.put_on_path(COMMAND, tmp_path, path) == f"`tracker2fa` is on your PATH ({COMMAND})"
    assert not (tmp_path / ".local").exists()
