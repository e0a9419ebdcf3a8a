"""`install --system` trusts only root's files: the host, every folder above it, its interpreter, the folders
its Python imports from and its tracker2fa package.

Real paths on this machine (a folder under /tmp other users can reach), real ownership (`nobody` is a real
other uid; the tests run as root), and `--dry-run`, so nothing machine-wide is written: the checks run while
the plan is computed, before anything could be.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from native_host.cli import main as cli_main
from native_host.deploy.manifest import DeployError
from native_host.deploy.plan import UntrustedHost
from native_host.deploy.registration import install

from .conftest import NOBODY, host_executable, owned_by

REPO = Path(__file__).resolve().parents[2]


def new_dir(path: Path, uid: int = 0) -> Path:
    path.mkdir()
    return owned_by(path, uid, 0o755)


def plan_system(host: Path):
    return install(["chromium"], system=True, dry_run=True, host_path=str(host))


def root_tree(base: Path) -> Path:
    """``base/opt/bin/tracker2fa-host``: this installation's console script in a root-owned 0755 tree."""
    host = base / "opt" / "bin" / "tracker2fa-host"
    host.parent.mkdir(parents=True)
    (base / "opt").chmod(0o755)
    host.parent.chmod(0o755)
    shutil.copy2(host_executable(), host)
    host.chmod(0o755)
    return host


def test_a_host_in_a_root_owned_0755_tree_is_accepted(shared_tmp):
    host = root_tree(shared_tmp)
    plan = plan_system(host)
    launcher = next(f for f in plan.files if f.role == "launcher")
    assert str(host) in launcher.content


def test_a_host_under_a_folder_owned_by_nobody_is_refused_with_the_path_and_the_owner(shared_tmp):
    host = root_tree(shared_tmp)
    owned_by(shared_tmp / "opt", NOBODY)
    with pytest.raises(UntrustedHost) as refused:
        plan_system(host)
    message = refused.value.message
    assert f"{shared_tmp / 'opt'} is owned by nobody" in message
    assert f"sudo chown root:root {shared_tmp / 'opt'}" in message
    assert refused.value.problems[0].owner == "nobody"


@pytest.mark.parametrize("level", ["opt", "opt/bin", "opt/bin/tracker2fa-host"])
@pytest.mark.parametrize("change", ["owned by nobody", "group-writable", "world-writable"])
def test_each_level_of_the_host_path_another_user_could_change_is_refused(shared_tmp, level, change):
    host = root_tree(shared_tmp)
    target = shared_tmp / level
    if change == "owned by nobody":
        owned_by(target, NOBODY)
        expected = f"{target} is owned by nobody"
    elif change == "group-writable":
        target.chmod(target.stat().st_mode | 0o020)
        expected = f"{target} is writable by the group root"
    else:
        target.chmod(target.stat().st_mode | 0o002)
        expected = f"{target} is writable by every user"
    with pytest.raises(UntrustedHost, match=expected):
        plan_system(host)


def test_a_symlinked_host_is_checked_along_the_link_target_too(shared_tmp):
    real = root_tree(shared_tmp)
    owned_by(shared_tmp / "opt" / "bin", NOBODY)
    (shared_tmp / "bin").mkdir(mode=0o755)
    link = shared_tmp / "bin" / "tracker2fa-host"
    link.symlink_to(real)
    with pytest.raises(UntrustedHost, match=f"{shared_tmp / 'opt' / 'bin'} is owned by nobody"):
        plan_system(link)


def test_a_sticky_world_writable_folder_above_root_owned_levels_is_accepted(shared_tmp):
    sticky = shared_tmp / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)  # like /tmp: nobody else can rename the root-owned entries inside
    host = root_tree(sticky)
    assert plan_system(host).scope == "system"


def _script_with_interpreter(folder: Path, interpreter: str) -> Path:
    host = folder / "tracker2fa-host"
    body = host_executable()
    lines = Path(body).read_text().splitlines(keepends=True)
    host.write_text(f"#!{interpreter}\n" + "".join(lines[1:]))
    host.chmod(0o755)
    return host


def test_an_interpreter_another_user_could_replace_is_refused(shared_tmp):
    theirs = new_dir(shared_tmp / "theirs", NOBODY)
    (theirs / "python3").symlink_to(os.path.realpath(sys.executable))
    ours = new_dir(shared_tmp / "ours")
    host = _script_with_interpreter(ours, str(theirs / "python3"))
    with pytest.raises(UntrustedHost) as refused:
        plan_system(host)
    problem = refused.value.problems[0]
    assert (problem.role, problem.path, problem.owner) == ("interpreter", str(theirs), "nobody")
    assert "on the path of the interpreter its #! line names" in refused.value.message


def test_an_interpreter_found_through_env_is_refused(shared_tmp):
    ours = new_dir(shared_tmp / "ours")
    host = _script_with_interpreter(ours, "/usr/bin/env python3")
    with pytest.raises(UntrustedHost, match=r"finds its interpreter through PATH \(#!/usr/bin/env python3\)"):
        plan_system(host)


def _venv_loading_native_host_from(shared_tmp: Path, packages: Path) -> Path:
    """A root-owned venv whose site-packages has a root-owned .pth adding ``packages``; its host script."""
    venv = shared_tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "tracker2fa-packages.pth").write_text(f"{packages}\n")
    return _script_with_interpreter(venv / "bin", str(venv / "bin" / "python"))


def test_a_tracker2fa_package_with_a_file_another_user_owns_is_refused(shared_tmp):
    packages = new_dir(shared_tmp / "packages")
    shutil.copytree(REPO / "native_host", packages / "native_host", ignore=shutil.ignore_patterns("__pycache__"))
    theirs = owned_by(packages / "native_host" / "host.py", NOBODY)
    host = _venv_loading_native_host_from(shared_tmp, packages)
    with pytest.raises(UntrustedHost) as refused:
        plan_system(host)
    problem = refused.value.problems[0]
    assert (problem.role, problem.path, problem.owner) == ("package directory", str(theirs), "nobody")
    assert "in the tracker2fa package it loads" in refused.value.message


def test_the_same_venv_with_a_root_owned_package_is_accepted(shared_tmp):
    packages = new_dir(shared_tmp / "packages")
    shutil.copytree(REPO / "native_host", packages / "native_host", ignore=shutil.ignore_patterns("__pycache__"))
    host = _venv_loading_native_host_from(shared_tmp, packages)
    assert plan_system(host).scope == "system"


def test_a_folder_on_the_import_path_another_user_owns_is_refused(shared_tmp):
    packages = new_dir(shared_tmp / "packages", NOBODY)
    host = _venv_loading_native_host_from(shared_tmp, packages)
    with pytest.raises(UntrustedHost) as refused:
        plan_system(host)
    problem = refused.value.problems[0]
    assert (problem.role, problem.path, problem.owner) == ("import path", str(packages), "nobody")


def test_dry_run_json_shows_the_same_refusal_and_exits_1(shared_tmp, capsys):
    host = root_tree(shared_tmp)
    owned_by(shared_tmp / "opt" / "bin", NOBODY)
    code = cli_main(["install", "--system", "--browser", "chromium", "--dry-run", "--json", "--host-path", str(host)])
    out, err = capsys.readouterr()
    assert code == 1
    error = json.loads(out)["error"]
    assert error["code"] == "untrusted_host"
    assert error["untrusted"] == [
        {
            "role": "host",
            "path": str(shared_tmp / "opt" / "bin"),
            "owner": "nobody",
            "reason": f"{shared_tmp / 'opt' / 'bin'} is owned by nobody, who could change it",
        }
    ]
    assert error["message"] in err


def test_a_refused_system_install_writes_nothing(shared_tmp, capsys):
    host = root_tree(shared_tmp)
    owned_by(host, NOBODY)
    before = {p: p.exists() for p in (Path("/etc/tracker2fa"), Path("/usr/local/lib/tracker2fa"))}
    assert cli_main(["install", "--system", "--browser", "chromium", "--host-path", str(host)]) == 1
    assert "is owned by nobody" in capsys.readouterr().err
    assert {p: p.exists() for p in before} == before


def test_a_per_user_install_still_accepts_a_host_the_user_owns(shared_tmp, home):
    host = root_tree(shared_tmp)
    owned_by(shared_tmp / "opt", NOBODY)
    plan = install(["chromium"], dry_run=True, host_path=str(host))
    assert plan.scope == "user"


def test_a_host_path_that_does_not_exist_is_still_reported_as_missing(shared_tmp):
    with pytest.raises(DeployError, match="does not exist"):
        plan_system(shared_tmp / "nothing" / "tracker2fa-host")


def test_a_launcher_whose_target_another_user_could_change_is_refused(shared_tmp):
    from native_host.deploy.layouts import system_config_path
    from native_host.deploy.plan import launcher_script
    from native_host.deploy.platforms import target_os

    host = root_tree(shared_tmp)
    owned_by(host, NOBODY)
    launcher = shared_tmp / "launcher"
    launcher.write_text(launcher_script(target_os("linux"), host, system_config_path(target_os("linux"))))
    launcher.chmod(0o755)
    with pytest.raises(UntrustedHost) as refused:
        plan_system(launcher)
    problem = refused.value.problems[0]
    assert (problem.role, problem.path, problem.owner) == ("launcher target", str(host), "nobody")
