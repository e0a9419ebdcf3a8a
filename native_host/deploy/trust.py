"""Whether a program may be run or registered for other users: who can change it, along its whole path.

Root must never run, or register for every user, a file another user can change. A file can be changed by
its owner, and replaced by whoever can write a folder on the way to it, so every level counts: ``/``, each
folder, each symlink followed (and the levels of its target), and the file itself. A level is trusted when
it is owned by an allowed user (root; for a user checking a profile that is not theirs, also themselves)
and neither its group nor others can write it. A world-writable folder with the sticky bit (``/tmp``) is
trusted as a level: nobody but the owner of an entry in it can rename or remove that entry, and the entry
itself must be trusted.

For a program, :func:`program_problems` also follows what runs when it starts: the interpreter of a
``#!`` script, the host a launcher written by ``tracker2fa install --system`` starts, and for Python the
folders it imports from and every file of the ``native_host`` package it would load. Python is asked
where those are only after its own executable passed, first without ``site`` (no ``.pth`` code runs), then
with it once the site folders and their ``.pth`` files passed.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import stat
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_SYMLINKS = 40  # what Linux follows before ELOOP
# Every line a launcher written by `tracker2fa install --system` has (see plan.launcher_script).
_LAUNCHER = re.compile(
    r"\A#!/bin/sh\n"
    r"# Written by `tracker2fa install --system`[^\n]*\n"
    r"#[^\n]*\n"
    r"TRACKER2FA_CONFIG=[^\n]*\n"
    r"export TRACKER2FA_CONFIG\n"
    r'exec (?P<target>[^\n]+) "\$@"\n\Z'
)
_WHERE = {
    "host": "on the host's path",
    "interpreter": "on the path of the interpreter its #! line names",
    "launcher target": "on the path of the host the launcher starts",
    "import path": "a folder its Python imports from",
    "package directory": "in the tracker2fa package it loads",
}
_PYTHON = re.compile(r"^python[0-9.]*$")
# Asked of a Python whose executable passed: its import path and site folders, without running site.
_NO_SITE = "import json, site, sys; print(json.dumps({'path': sys.path, 'site': site.getsitepackages()}))"
# Asked once the site folders and .pth files passed: the import path with site, and where native_host is.
_WITH_SITE = (
    "import importlib.util, json, sys; s = importlib.util.find_spec('native_host'); "
    "print(json.dumps({'path': sys.path, 'package': list(s.submodule_search_locations) if s else None}))"
)
# A stable environment for those questions: -I ignores PYTHON* variables, PATH is the system's.
_PROBE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"}


@dataclass(frozen=True)
class Untrusted:
    """One level another user could change: what it is for, the path, and why."""

    role: str  # "host", "interpreter", "launcher target", "import path", "package directory"
    path: str
    owner: str
    reason: str

    def describe(self) -> str:
        return f"{self.reason} ({_WHERE.get(self.role, self.role)})"

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "path": self.path, "owner": self.owner, "reason": self.reason}


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def path_levels(path: str) -> list[tuple[str, os.stat_result]]:
    """Every entry the kernel passes through to reach ``path`` (absolute), symlinks followed, with its lstat.

    Raises OSError when a level does not exist or there are too many symlinks.
    """
    if not path.startswith("/"):
        raise OSError(f"not an absolute path: {path!r}")
    levels = [("/", os.lstat("/"))]
    pending = list(PurePosixPath(path).parts[1:])
    current = "/"
    links = 0
    while pending:
        name = pending.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            current = os.path.dirname(current)  # a level already checked: `current` holds no symlink
            continue
        candidate = os.path.join(current, name)
        info = os.lstat(candidate)
        levels.append((candidate, info))
        if stat.S_ISLNK(info.st_mode):
            links += 1
            if links > MAX_SYMLINKS:
                raise OSError(f"too many symlinks on the way to {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = "/"
            pending = list(PurePosixPath(target).parts[1 if target.startswith("/") else 0 :]) + pending
            continue
        current = candidate
    return levels


def _level_problem(path: str, info: os.stat_result, allowed: frozenset[int], role: str) -> Untrusted | None:
    owner = user_name(info.st_uid)
    if info.st_uid not in allowed:
        return Untrusted(role, path, owner, f"{path} is owned by {owner}, who could change it")
    if stat.S_ISLNK(info.st_mode):
        return None  # a symlink's own mode means nothing; its folder decides who can replace it
    if stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX:
        return None  # sticky (/tmp): others cannot rename or remove the trusted entry inside
    if info.st_mode & stat.S_IWOTH:
        return Untrusted(role, path, owner, f"{path} is writable by every user")
    if info.st_mode & stat.S_IWGRP:
        group = _group_name(info.st_gid)
        return Untrusted(role, path, owner, f"{path} is writable by the group {group}")
    return None


def path_problem(path: str, allowed: frozenset[int], role: str) -> Untrusted | None:
    """The first level of ``path`` another user could change (None when every level is trusted)."""
    try:
        levels = path_levels(path)
    except OSError as exc:
        return Untrusted(role, path, "?", f"{path} cannot be checked: {exc.strerror or exc}")
    for level, info in levels:
        problem = _level_problem(level, info, allowed, role)
        if problem is not None:
            return problem
    return None


def tree_problem(root: str, allowed: frozenset[int], role: str) -> Untrusted | None:
    """The first entry inside the folder ``root`` (its levels included) another user could change."""
    problem = path_problem(root, allowed, role)
    if problem is not None:
        return problem
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            entry = os.path.join(folder, name)
            try:
                info = os.lstat(entry)
            except OSError:
                continue  # gone while walking (a __pycache__ being replaced): nothing to run there
            problem = _level_problem(entry, info, allowed, role)
            if problem is not None:
                return problem
    return None


def shebang(path: str) -> list[str] | None:
    """The interpreter and its argument from a ``#!`` line, or None for a file without one."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    # Linux passes the rest of the line as one argument.
    interpreter, _, argument = line.partition(" ")
    argument = argument.strip()
    return [interpreter, argument] if argument else [interpreter]


def launcher_target(path: str) -> str | None:
    """The host a launcher written by ``tracker2fa install --system`` starts (None for any other file)."""
    try:
        with open(path, "rb") as handle:
            text = handle.read(4096).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = _LAUNCHER.match(text)
    if match is None:
        return None
    try:
        words = shlex.split(match.group("target"))
    except ValueError:
        return None
    return words[0] if len(words) == 1 else None


def program_problems(
    program: str,
    allowed: frozenset[int] = frozenset({0}),
    *,
    role: str = "host",
    accepted: Iterable[str] = (),
) -> list[Untrusted]:
    """What another user could change in ``program`` or in what it runs (empty when nothing).

    ``accepted`` programs are taken as they are (this installation's own host, which the caller already runs).
    """
    accepted = {os.path.normpath(p) for p in accepted}
    if os.path.normpath(program) in accepted:
        return []
    problem = path_problem(program, allowed, role)
    if problem is not None:
        return [problem]
    target = launcher_target(program)
    if target is not None:
        return program_problems(target, allowed, role="launcher target", accepted=accepted)
    line = shebang(program)
    if line is None:
        return []
    interpreter = line[0]
    if not interpreter.startswith("/"):
        return [Untrusted("interpreter", interpreter, "?", f"the #! line of {program} names a relative interpreter")]
    if os.path.basename(interpreter) == "env":
        return [
            Untrusted(
                "interpreter",
                interpreter,
                "?",
                f"{program} finds its interpreter through PATH (#!{' '.join(line)}), which each user sets",
            )
        ]
    problem = path_problem(interpreter, allowed, "interpreter")
    if problem is not None:
        return [problem]
    if _PYTHON.match(os.path.basename(interpreter)):
        return python_problems(interpreter, allowed)
    return []


def _ask_python(interpreter: str, flags: list[str], code: str) -> dict | None:
    try:
        done = subprocess.run(
            [interpreter, *flags, "-c", code],
            capture_output=True,
            timeout=30,
            env=_PROBE_ENV,
            cwd="/",
            check=False,
        )
        answer = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    return answer if done.returncode == 0 and isinstance(answer, dict) else None


def python_problems(interpreter: str, allowed: frozenset[int]) -> list[Untrusted]:
    """The folders a (trusted) Python imports from, their ``.pth`` files and the ``native_host`` package."""
    bare = _ask_python(interpreter, ["-I", "-S"], _NO_SITE)
    if bare is None:
        return [Untrusted("interpreter", interpreter, "?", f"{interpreter} did not say where it imports from")]
    site_dirs = [d for d in bare.get("site", []) if isinstance(d, str) and os.path.isdir(d)]
    for folder in _existing(bare.get("path", [])) + site_dirs:
        problem = path_problem(folder, allowed, "import path")
        if problem is not None:
            return [problem]
    for folder in site_dirs:
        for pth in sorted(Path(folder).glob("*.pth")):
            problem = path_problem(str(pth), allowed, "import path")
            if problem is not None:
                return [problem]
    full = _ask_python(interpreter, ["-I"], _WITH_SITE)
    if full is None:
        return [Untrusted("interpreter", interpreter, "?", f"{interpreter} did not say where it imports from")]
    for folder in _existing(full.get("path", [])):
        problem = path_problem(folder, allowed, "import path")
        if problem is not None:
            return [problem]
    for package in full.get("package") or []:
        if isinstance(package, str):
            problem = tree_problem(package, allowed, "package directory")
            if problem is not None:
                return [problem]
    return []


def _existing(paths: object) -> list[str]:
    """The folders and zip files of an import path that exist (Python skips the others)."""
    if not isinstance(paths, list):
        return []
    return [p for p in paths if isinstance(p, str) and p.startswith("/") and os.path.exists(p)]
