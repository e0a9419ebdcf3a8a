"""`tracker2fa doctor` run by root on another user's profile never starts that user's program.

A helpdesk runs doctor on a user's profile as root. The profile, its manifest and the program the manifest
names belong to `nobody` (a real other uid; the tests run as root). Root's doctor must not start it: a marker
file the program would create never appears, and the report names the program and why it was not started.
The profile's owner running doctor on their own profile (a forked child that became `nobody`) still gets the
probe, exactly as before.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from native_host import DEV_EXTENSION_ID, HOST_NAME
from native_host.cli import main as cli_main
from native_host.deploy import doctor as doctor_module
from native_host.deploy.doctor import doctor

from .conftest import NOBODY, host_executable, owned_by


def their_profile(shared: Path, host: str) -> Path:
    """A Chromium profile of `nobody` whose manifest names ``host``."""
    profile = owned_by(_mkdir(shared / "profile"), NOBODY, 0o755)
    hosts = owned_by(_mkdir(profile / "NativeMessagingHosts"), NOBODY, 0o755)
    manifest = hosts / f"{HOST_NAME}.json"
    manifest.write_text(
        json.dumps(
            {
                "name": HOST_NAME,
                "description": "theirs",
                "path": host,
                "type": "stdio",
                "allowed_origins": [f"chrome-extension://{DEV_EXTENSION_ID}/"],
            }
        )
    )
    owned_by(manifest, NOBODY, 0o644)
    return profile


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def their_script(shared: Path, marker: Path) -> Path:
    """A program of `nobody` that leaves ``marker`` behind when it runs."""
    script = shared / "profile-tool.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    return owned_by(script, NOBODY, 0o755)


def marker_folder(shared: Path) -> Path:
    return owned_by(_mkdir(shared / "markers"), NOBODY, 0o777)


def env_in(shared: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(shared / "home"),
        "TRACKER2FA_VAULT": str(shared / "vault.json"),
        "TRACKER2FA_CONFIG": str(shared / "config.json"),
    }


def run_doctor(profile: Path, env: dict[str, str]):
    return doctor(user_data_dir=profile, browsers=["chromium"], browser_env=env, shell_env=env)


def test_root_never_starts_a_program_the_profiles_owner_could_change_and_names_it(shared_tmp):
    marker = marker_folder(shared_tmp) / "ran"
    script = their_script(shared_tmp, marker)
    profile = their_profile(shared_tmp, str(script))
    report = run_doctor(profile, env_in(shared_tmp))
    assert not marker.exists()
    assert report.host_answers is None
    assert report.not_started == [
        {
            "program": str(script),
            "manifest": str(profile / "NativeMessagingHosts" / f"{HOST_NAME}.json"),
            "reason": f"{script} is owned by nobody, who could change it (on the host's path)",
        }
    ]
    assert any(f"did not start {script}" in note for note in report.notes)


def test_root_never_starts_a_root_owned_script_whose_interpreter_the_user_controls(shared_tmp):
    marker = marker_folder(shared_tmp) / "ran"
    theirs = owned_by(_mkdir(shared_tmp / "theirs"), NOBODY, 0o755)
    interpreter = theirs / "sh"
    interpreter.write_text(f"#!/bin/sh\ntouch {marker}\n")
    owned_by(interpreter, NOBODY, 0o755)
    script = shared_tmp / "root-owned-tool"
    script.write_text(f"#!{interpreter}\n")
    script.chmod(0o755)
    report = run_doctor(their_profile(shared_tmp, str(script)), env_in(shared_tmp))
    assert not marker.exists()
    assert report.not_started[0]["reason"] == (
        f"{theirs} is owned by nobody, who could change it (on the path of the interpreter its #! line names)"
    )


def test_the_profiles_owner_still_gets_the_probe(shared_tmp):
    marker = marker_folder(shared_tmp) / "ran"
    script = their_script(shared_tmp, marker)
    profile = their_profile(shared_tmp, str(script))
    env = env_in(shared_tmp)
    pid = os.fork()
    if pid == 0:  # the child becomes the profile's owner and runs doctor as they would
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.environ.update(env)
            report = run_doctor(profile, env)
            code = 0 if report.not_started == [] and report.host_answers is False else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert marker.exists()  # their own program ran, as them


def test_root_starts_this_installations_host_named_by_another_users_manifest(shared_tmp):
    profile = their_profile(shared_tmp, host_executable())
    report = run_doctor(profile, env_in(shared_tmp))
    assert report.not_started == []
    assert report.host_answers is True


def test_root_does_not_hand_the_users_pythonpath_to_the_host_it_starts(shared_tmp):
    marker = marker_folder(shared_tmp) / "ran"
    theirs = owned_by(_mkdir(shared_tmp / "pythonpath"), NOBODY, 0o755)
    (theirs / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    profile = their_profile(shared_tmp, host_executable())
    env = {**env_in(shared_tmp), "PYTHONPATH": str(theirs), "LD_PRELOAD": str(theirs / "nothing.so")}
    report = run_doctor(profile, env)
    assert report.host_answers is True
    assert not marker.exists()


def test_doctor_cli_as_root_prints_what_it_did_not_start(shared_tmp, capsys, monkeypatch):
    for name, value in env_in(shared_tmp).items():
        monkeypatch.setenv(name, value)
    marker = marker_folder(shared_tmp) / "ran"
    script = their_script(shared_tmp, marker)
    profile = their_profile(shared_tmp, str(script))
    cli_main(["doctor", "--user-data-dir", str(profile), "--browser-pid", str(os.getpid())])
    out = capsys.readouterr().out
    assert not marker.exists()
    assert "host answers hello: not checked" in out
    assert f"  not started: {script} (named by {profile}/NativeMessagingHosts/{HOST_NAME}.json)" in out


def as_on_windows(monkeypatch: pytest.MonkeyPatch, elevated: bool) -> None:
    """Doctor as it runs on Windows (no os.geteuid: no owners to compare), with or without an administrator's
    token."""
    monkeypatch.delattr(os, "geteuid")
    monkeypatch.setattr(doctor_module, "_elevated_on_windows", lambda: elevated)


def an_administrators_script(shared: Path, marker: Path) -> Path:
    """A program owned by root, no group/other write: POSIX's rule would start it."""
    script = shared / "admin-tool.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    return script


def test_an_administrator_on_windows_starts_no_program_but_this_installations_host(shared_tmp, monkeypatch):
    marker = marker_folder(shared_tmp) / "ran"
    script = an_administrators_script(shared_tmp, marker)
    profile = their_profile(shared_tmp, str(script))
    as_on_windows(monkeypatch, elevated=True)
    report = run_doctor(profile, env_in(shared_tmp))
    assert not marker.exists()
    assert report.not_started[0]["reason"] == (
        f"doctor runs as an administrator and cannot tell who could change {script} on Windows: it starts only "
        "this installation's host"
    )


def test_an_administrator_on_windows_still_starts_this_installations_host(shared_tmp, monkeypatch):
    profile = their_profile(shared_tmp, host_executable())
    as_on_windows(monkeypatch, elevated=True)
    report = run_doctor(profile, env_in(shared_tmp))
    assert (report.not_started, report.host_answers) == ([], True)


def test_a_user_on_windows_without_elevation_still_gets_the_probe(shared_tmp, monkeypatch):
    marker = marker_folder(shared_tmp) / "ran"
    profile = their_profile(shared_tmp, str(an_administrators_script(shared_tmp, marker)))
    as_on_windows(monkeypatch, elevated=False)
    report = run_doctor(profile, env_in(shared_tmp))
    assert report.not_started == []
    assert marker.exists()


@pytest.mark.parametrize("name", ["PYTHONPATH", "LD_PRELOAD", "PYTHONHOME", "BASH_ENV"])
def test_the_probe_environment_keeps_where_the_files_are_and_drops_what_loads_code(name):
    from native_host.deploy.doctor import probe_environment

    env = probe_environment({"HOME": "/h", "TRACKER2FA_VAULT": "/v", "LC_ALL": "C", name: "/x", "PATH": "/home/u/bin"})
    assert env == {"HOME": "/h", "TRACKER2FA_VAULT": "/v", "LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
