"""``tracker2fa pack --deb``: a Debian package of the host, built with ``dpkg-deb`` alone.

What the package holds (version ``<package version>-1``, the machine's architecture):

- ``/usr/lib/tracker2fa``: a virtual environment whose interpreter is Debian's own ``/usr/bin/python3`` (the
  ``python3`` package, root's, so every level of the path is root's), with tracker2fa and its dependencies
  installed from the wheel: nothing from ``/usr/lib/python3/dist-packages`` and nothing of the user's is
  imported (``include-system-site-packages = false``, and the scripts start Python with ``-I``). Its
  ``site-packages`` is named after that Python's version, so the package depends on exactly that minor version
  (build it on the Debian release your fleet runs).
- ``/usr/bin/tracker2fa``: a relative symlink to the environment's console script.
- maintainer scripts: ``postinst`` compiles the bytecode (Debian ships none) and runs ``tracker2fa install
  --system`` for every supported browser, the same code an admin runs by hand (idempotent: an upgrade rewrites
  the same files and keeps the allowed ids); ``prerm`` runs ``tracker2fa uninstall --system`` on removal and
  drops the bytecode; ``postrm purge`` removes whatever of ours is left (the host configuration, a manifest a
  failed uninstall left behind).
- ``/usr/share/doc/tracker2fa/copyright`` and ``changelog.Debian.gz``, ``DEBIAN/md5sums``.

The launcher a system install writes goes to ``/usr/lib/tracker2fa/tracker2fa-host`` when this folder exists
(see :func:`.layouts.app_dir`): a package must not write under ``/usr/local``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from .browsers import BROWSERS
from .layouts import DEBIAN_PACKAGE_DIR
from .manifest import DeployError
from .plan import split_extension_ids

PACKAGE = "tracker2fa"
PYTHON = "/usr/bin/python3"  # Debian's interpreter: root's, and what the `python3` dependency provides
DEFAULT_MAINTAINER = "tracker2fa packagers <packagers@tracker2fa.example.org>"  # pass your own: --maintainer
HOST = f"{DEBIAN_PACKAGE_DIR}/bin/tracker2fa-host"
CLI = f"{DEBIAN_PACKAGE_DIR}/bin/tracker2fa"
KEEP_SCRIPTS = ("tracker2fa", "tracker2fa-host")
_MAINTAINER = re.compile(r"^[^<>\n]+ <[^<>@\s]+@[^<>@\s]+>$")


@dataclass
class DebResult:
    path: Path
    version: str
    architecture: str
    python: str
    depends: str

    def to_json(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in vars(self).items()}


def _run(cmd: list[str], what: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    except OSError as exc:
        raise DeployError(f"could not {what}: {exc.strerror or exc} ({cmd[0]})") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise DeployError(f"could not {what} (`{' '.join(cmd[:4])} …` exited {done.returncode}): {tail}")
    return done


def _checkout() -> Path | None:
    """The source checkout this package runs from, if any (where ``pyproject.toml`` is)."""
    top = Path(__file__).resolve().parents[2]
    return top if (top / "pyproject.toml").is_file() and (top / "native_host").is_dir() else None


def build_wheel(out: Path) -> Path:
    """A wheel of the checkout this package runs from (no network: the build uses this Python's setuptools)."""
    checkout = _checkout()
    if checkout is None:
        raise DeployError("tracker2fa is not running from a checkout: pass the wheel with --wheel FILE")
    # From a copy of what the wheel holds: building in the checkout would leave build/ and egg-info there.
    source = out / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(checkout / name, source / name)
    for package in ("native_host", "verifier"):
        shutil.copytree(checkout / package, source / package, ignore=ignore)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)]
    _run([*cmd, str(source)], "build the wheel")
    wheels = sorted(out.glob("tracker2fa-*.whl"))
    if not wheels:
        raise DeployError(f"no tracker2fa wheel was written to {out}")
    return wheels[-1]


def python_version(python: str = PYTHON) -> tuple[int, int, int]:
    """The version of the interpreter the package will run on (checked to be root's along its whole path)."""
    from .trust import path_problem

    problem = path_problem(python, frozenset({0}), "interpreter")
    if problem is not None:
        raise DeployError(f"the package's interpreter must be root's: {problem.describe()}")
    done = _run([python, "-I", "-c", "import sys; print('%d %d %d' % sys.version_info[:3])"], "ask Python its version")
    major, minor, micro = (int(x) for x in done.stdout.split())
    return major, minor, micro


def architecture() -> str:
    return _run(["dpkg", "--print-architecture"], "ask dpkg the architecture").stdout.strip()


def _venv(prefix: Path, version: tuple[int, int, int]) -> Path:
    """A virtual environment at ``prefix`` for Debian's Python, written by hand: it names only final paths."""
    major, minor, micro = version
    bin_dir = prefix / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(PYTHON)  # made relative once pip has run (see _tidy)
    (bin_dir / "python3").symlink_to("python")
    (bin_dir / f"python{major}.{minor}").symlink_to("python")
    site = prefix / "lib" / f"python{major}.{minor}" / "site-packages"
    site.mkdir(parents=True)
    (prefix / "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(PYTHON)}\ninclude-system-site-packages = false\nversion = {major}.{minor}.{micro}\n"
    )
    return site


def _install(prefix: Path, wheel: Path, wheelhouse: Path | None) -> None:
    """Install the wheel and its dependencies into the environment, with Debian's Python choosing the builds."""
    cmd = [
        sys.executable, "-m", "pip", "--python", str(prefix / "bin" / "python"), "install", "-q",
        "--no-compile", "--no-warn-script-location", "--disable-pip-version-check", "--no-input",
    ]
    if wheelhouse is not None:
        cmd += ["--no-index", "--find-links", str(wheelhouse)]
    _run([*cmd, str(wheel)], f"install {wheel.name} and its dependencies into the package")


def _tidy(prefix: Path) -> None:
    """Only our two commands in bin (pointing at the final interpreter), no bytecode, no build paths."""
    bin_dir = prefix / "bin"
    # Relative, as Debian wants links inside /usr (in the staging tree it would not resolve while pip runs).
    (bin_dir / "python").unlink()
    (bin_dir / "python").symlink_to(os.path.relpath(PYTHON, f"{DEBIAN_PACKAGE_DIR}/bin"))
    for entry in bin_dir.iterdir():
        if entry.name.startswith("python"):
            continue
        if entry.name not in KEEP_SCRIPTS:
            entry.unlink()
            continue
        lines = entry.read_text().splitlines(keepends=True)
        if not lines[0].startswith("#!"):
            raise DeployError(f"{entry.name} is not a script pip wrote")
        # -I: no PYTHON* variables, no user site: root running `tracker2fa` imports only the package's files.
        entry.write_text(f"#!{DEBIAN_PACKAGE_DIR}/bin/python -I\n" + "".join(lines[1:]))
    for cache in sorted(prefix.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache)
    for junk in [*prefix.rglob("*.pyc"), *prefix.rglob("direct_url.json")]:
        junk.unlink()


def _normalise_modes(root: Path) -> None:
    """Folders 0755, files 0644, scripts and ELF programs 0755 (shared libraries stay 0644, as Debian wants)."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
            continue
        executable = path.parent.name == "bin" or (path.parent.name == "DEBIAN" and path.name in _SCRIPTS)
        path.chmod(0o755 if executable else 0o644)


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def _strip(root: Path) -> list[Path]:
    """Strip debugging symbols from the vendored shared libraries (Debian ships them stripped)."""
    elves = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and _is_elf(p)]
    strip = shutil.which("strip")
    for elf in elves:
        if strip:
            subprocess.run([strip, "--strip-unneeded", "--remove-section=.comment", "--remove-section=.note", str(elf)],
                           capture_output=True, check=False)
    return elves


def shared_library_depends(elves: list[Path], staging: Path) -> list[str]:
    """The ``Depends`` entries for the system libraries the vendored binaries load, as ``dpkg-shlibdeps`` would
    write them from the providing packages' ``shlibs`` files (``libc6 (>= 2.36)``); a library without an entry
    there gets its package at the installed version or later."""
    found: dict[str, str] = {}
    for elf in elves:
        done = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, check=False)
        for line in done.stdout.splitlines():
            match = re.match(r"\s*(\S+)\s+=>\s+(/\S+)", line) or re.match(r"\s*((/\S+))\s+\(", line)
            if match is None:
                continue
            soname, library = os.path.basename(match.group(1)), match.group(2)
            if Path(os.path.realpath(library)).is_relative_to(staging):
                continue  # vendored beside it (cryptography's, cffi's libraries)
            package = _dpkg_owner(library) or _dpkg_owner(os.path.realpath(library))
            if package is None:
                raise DeployError(f"{elf.name} needs {library}, which no Debian package provides")
            found.setdefault(_shlibs_dependency(package, soname) or _at_least_installed(package), package)
    return sorted(found)


def _shlibs_dependency(package: str, soname: str) -> str | None:
    """What ``package``'s shlibs file says a binary linked with ``soname`` depends on (``libc.so.6`` → libc 6)."""
    match = re.match(r"^(.+)\.so\.(.+)$", soname)
    if match is None:
        return None
    name, version = match.groups()
    info = Path("/var/lib/dpkg/info")
    for shlibs in [info / f"{package}.shlibs", *info.glob(f"{package.split(':')[0]}:*.shlibs")]:
        try:
            lines = shlibs.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            fields = line.split(None, 2)
            if len(fields) == 3 and fields[0] == name and fields[1] == version:
                return fields[2].strip()
    return None


def _at_least_installed(package: str) -> str:
    name = package.split(":")[0]
    version = _run(["dpkg-query", "-W", "-f=${Version}", name], f"ask dpkg the version of {name}").stdout.strip()
    return f"{name} (>= {version})"


def _dpkg_owner(path: str) -> str | None:
    done = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # usrmerge: dpkg knows /lib/... when the file is reached as /usr/lib/...
        if path.startswith("/usr/lib"):
            done = subprocess.run(["dpkg", "-S", path[4:]], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return None
    # "libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6" → "libc6:amd64"
    return done.stdout.rsplit(": ", 1)[0].strip() or None


_SCRIPTS = ("postinst", "prerm", "postrm")


def _system_manifest_paths() -> list[str]:
    from .. import HOST_NAME

    folders = dict.fromkeys(folder for b in BROWSERS.values() for folder in b.linux_system)
    return [f"{folder}/{HOST_NAME}.json" for folder in folders]


def maintainer_scripts(extension_ids: list[str]) -> dict[str, str]:
    """postinst, prerm and postrm: the same install and uninstall code an admin runs."""
    browsers = " ".join(f"--browser {name}" for name in BROWSERS)
    ids = "".join(f" --extension-id {ext_id}" for ext_id in extension_ids)
    leftovers = " ".join([*_system_manifest_paths(), f"{DEBIAN_PACKAGE_DIR}/tracker2fa-host"])
    return {
        "postinst": f"""#!/bin/sh
# tracker2fa: compile the bytecode, then register the host for every user and every supported browser
# (`tracker2fa install --system`: idempotent; an upgrade keeps the extension ids already allowed).
set -e
# Whatever umask dpkg was started with: bytecode no one but root can write (install --system checks it).
umask 022
if [ "$1" = configure ]; then
    {DEBIAN_PACKAGE_DIR}/bin/python -I -m compileall -q -j 0 {DEBIAN_PACKAGE_DIR}/lib >/dev/null
    {CLI} install --system --host-path {HOST} {browsers}{ids}
fi
exit 0
""",
        "prerm": f"""#!/bin/sh
# tracker2fa: unregister the host (`tracker2fa uninstall --system`) when the package goes, and drop the
# bytecode postinst compiled (also before an upgrade, whose postinst compiles the new files).
set -e
case "$1" in
    remove|deconfigure)
        if ! {CLI} uninstall --system; then
            echo "tracker2fa: unregistering the host failed (see above); purging the package removes what is left" >&2
        fi
        ;;
esac
find {DEBIAN_PACKAGE_DIR} -depth -type d -name __pycache__ -exec rm -rf {{}} +
exit 0
""",
        "postrm": f"""#!/bin/sh
# tracker2fa: on purge, remove whatever of ours is left: the machine's host configuration, and a manifest or
# launcher an uninstall that failed left behind.
set -e
if [ "$1" = purge ]; then
    rm -f /etc/tracker2fa/host.json /etc/tracker2fa/install-receipt.json {leftovers}
    rmdir /etc/tracker2fa 2>/dev/null || true
    rmdir {DEBIAN_PACKAGE_DIR} 2>/dev/null || true
fi
exit 0
""",
    }


def _copyright(site: Path) -> str:
    """DEP-5 copyright: tracker2fa's licence, and each vendored distribution's as its metadata states it."""
    from email.parser import Parser

    lines = [
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
        "Upstream-Name: tracker2fa",
        "Comment: The host is packaged with its Python dependencies (from their wheels) in",
        f" {DEBIAN_PACKAGE_DIR}; each is listed below with the licence its metadata declares.",
        "",
        "Files: *",
        "Copyright: tracker2fa authors",
        "License: Apache-2.0",
        "",
    ]
    for info in sorted(site.glob("*.dist-info")):
        metadata = Parser().parsestr((info / "METADATA").read_text(errors="replace"), headersonly=True)
        name = metadata.get("Name", info.name)
        if name.lower() == PACKAGE:
            continue
        licence = (metadata.get("License-Expression") or metadata.get("License") or "").strip().splitlines()
        classifiers = [c.split("::")[-1].strip() for c in metadata.get_all("Classifier", []) if c.startswith("License")]
        declared = (licence[0] if licence and len(licence[0]) < 80 else "") or ", ".join(classifiers) or "see METADATA"
        lines += [
            f"Files: {DEBIAN_PACKAGE_DIR.lstrip('/')}/lib/*/site-packages/{info.name.split('-')[0]}*",
            f"Copyright: {name} {metadata.get('Version', '')} authors ({metadata.get('Author') or 'see METADATA'})",
            f"License: {declared.replace(chr(10), ' ')}",
            f" The full text is in {info.name}/ (LICENSE files and METADATA) beside the code.",
            "",
        ]
    lines += [
        "License: Apache-2.0",
        " On Debian systems, the full text of the Apache License, Version 2.0 is in",
        " /usr/share/common-licenses/Apache-2.0.",
        "",
    ]
    return "\n".join(lines)


def _changelog(version: str, maintainer: str) -> bytes:
    from email.utils import formatdate

    text = (
        f"{PACKAGE} ({version}) unstable; urgency=medium\n\n"
        f"  * Built by `tracker2fa pack --deb` from tracker2fa {__version__}.\n\n"
        f" -- {maintainer}  {formatdate(localtime=False)}\n"
    )
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def _manual_page(version: str) -> str:
    return (
        f'.TH TRACKER2FA 1 "" "tracker2fa {version}" "User Commands"\n'
        ".SH NAME\ntracker2fa \\- one-click second factor for issue trackers: vault, browser host, deployment\n"
        ".SH SYNOPSIS\n.B tracker2fa\n.I COMMAND\n[\\fIOPTIONS\\fR]\n"
        ".SH DESCRIPTION\nThe command line of tracker2fa: \\fBvault\\fR (the encrypted TOTP vault),\n"
        "\\fBinstall\\fR and \\fBuninstall\\fR (register the native host with browsers, per user or\n"
        "\\fB\\-\\-system\\fR), \\fBdoctor\\fR (find why a browser cannot reach the host), \\fBpolicy\\fR and\n"
        "\\fBpack\\fR (admin deployment). \\fBtracker2fa COMMAND \\-\\-help\\fR lists every option.\n"
        ".PP\nThis package registered the host for every user and supported browser when it was\n"
        "installed; \\fBtracker2fa doctor \\-\\-system\\fR checks that registration.\n"
        ".SH SEE ALSO\nThe admin guide and the command-line reference in the tracker2fa documentation\n"
        "(docs/admin-guide.md, docs/cli.md).\n"
    )


def _control(version: str, arch: str, maintainer: str, depends: list[str], size_kib: int) -> str:
    return (
        f"Package: {PACKAGE}\n"
        f"Version: {version}\n"
        f"Architecture: {arch}\n"
        f"Maintainer: {maintainer}\n"
        f"Installed-Size: {size_kib}\n"
        f"Depends: {', '.join(depends)}\n"
        "Section: utils\n"
        "Priority: optional\n"
        "Description: one-click second factor for issue trackers (native host)\n"
        " The tracker2fa native-messaging host, its encrypted TOTP vault and its\n"
        " command line, for the tracker2fa browser extension in Chromium, Chrome,\n"
        " Edge, Brave, Vivaldi and Firefox. Installing the package registers the\n"
        " host for every user of the machine (tracker2fa install --system);\n"
        " removing it unregisters it.\n"
    )


def build_deb(
    out: Path,
    *,
    wheel: Path | None = None,
    wheelhouse: Path | None = None,
    extension_ids: list[str] | None = None,
    maintainer: str = DEFAULT_MAINTAINER,
) -> DebResult:
    """Build ``tracker2fa_<version>-1_<arch>.deb`` in ``out``; return what was built."""
    if shutil.which("dpkg-deb") is None:
        raise DeployError("dpkg-deb is not installed: build the package on Debian (or a derivative)")
    if not _MAINTAINER.match(maintainer):
        raise DeployError(f"--maintainer must look like 'Name <address@example.org>', not {maintainer!r}")
    extension_ids = list(dict.fromkeys(extension_ids or []))
    split_extension_ids(extension_ids)  # a bad id is refused here, not by postinst on every machine
    if wheel is not None and not wheel.is_file():
        raise DeployError(f"no wheel at {wheel}")
    if wheelhouse is not None and not wheelhouse.is_dir():
        raise DeployError(f"no wheelhouse folder at {wheelhouse}")
    version = python_version()
    arch = architecture()
    with tempfile.TemporaryDirectory(prefix="tracker2fa-deb-") as tmp:
        work = Path(tmp)
        wheel = wheel or build_wheel(work / "wheel")
        match = re.match(r"tracker2fa-([^-]+)-", wheel.name)
        if match is None:
            raise DeployError(f"{wheel.name} is not a tracker2fa wheel")
        deb_version = f"{match.group(1)}-1"
        staging = work / "root"
        prefix = staging / DEBIAN_PACKAGE_DIR.lstrip("/")
        site = _venv(prefix, version)
        _install(prefix, wheel, wheelhouse)
        _tidy(prefix)
        if not (prefix / "bin" / "tracker2fa-host").exists():
            raise DeployError(f"{wheel.name} installed no tracker2fa-host")
        (staging / "usr/bin").mkdir(parents=True)
        (staging / "usr/bin/tracker2fa").symlink_to(os.path.relpath(CLI, "/usr/bin"))
        docs = staging / "usr/share/doc" / PACKAGE
        docs.mkdir(parents=True)
        (docs / "copyright").write_text(_copyright(site))
        (docs / "changelog.Debian.gz").write_bytes(_changelog(deb_version, maintainer))
        man = staging / "usr/share/man/man1"
        man.mkdir(parents=True)
        (man / "tracker2fa.1.gz").write_bytes(gzip.compress(_manual_page(deb_version).encode(), 9, mtime=0))
        elves = _strip(staging)
        depends = [f"python3 (>= {version[0]}.{version[1]}~)", f"python3 (<< {version[0]}.{version[1] + 1})"]
        depends += shared_library_depends(elves, staging)
        control = staging / "DEBIAN"
        control.mkdir()
        for name, text in maintainer_scripts(extension_ids).items():
            (control / name).write_text(text)
        _normalise_modes(staging)
        (control / "md5sums").write_text(_md5sums(staging))
        size_kib = sum(_disk_kib(p) for p in staging.rglob("*") if "DEBIAN" not in p.relative_to(staging).parts)
        (control / "control").write_text(_control(deb_version, arch, maintainer, depends, size_kib))
        for path in (control / "md5sums", control / "control"):
            path.chmod(0o644)
        out.mkdir(parents=True, exist_ok=True)
        target = out / f"{PACKAGE}_{deb_version}_{arch}.deb"
        _run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(staging), str(target)], "build the package")
    return DebResult(target, deb_version, arch, f"{PYTHON} ({'.'.join(map(str, version))})", ", ".join(depends))


def _md5sums(staging: Path) -> str:
    lines = []
    for path in sorted(staging.rglob("*")):
        rel = path.relative_to(staging)
        if rel.parts[0] == "DEBIAN" or path.is_symlink() or not path.is_file():
            continue
        lines.append(f"{hashlib.md5(path.read_bytes()).hexdigest()}  {rel.as_posix()}")
    return "\n".join(lines) + "\n"


def _disk_kib(path: Path) -> int:
    info = path.lstat()
    if stat.S_ISDIR(info.st_mode):
        return 1
    return (info.st_size + 1023) // 1024
