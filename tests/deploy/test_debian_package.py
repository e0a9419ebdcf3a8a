"""The Debian package `tracker2fa pack --deb` builds: lintian finds no error, `dpkg -i` registers the host for every
browser, real Chromium and Firefox with fresh profiles start it from /usr/lib/tracker2fa, `doctor --system` finds
everything in place, reinstalling changes nothing, and `dpkg --purge` leaves no file of ours behind.

This installs the package on this machine for real (machine-wide: /usr/lib/tracker2fa, /etc/tracker2fa and the
browsers' system manifest folders). The package is built once per session; the module installs it once and
always purges it in a `finally`. A system registration that was there before (another install) is moved aside
for the module and put back afterwards, so the before/after listing compares a clean machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from native_host import DEV_EXTENSION_ID, HOST_NAME, __version__
from native_host.deploy.browsers import BROWSERS
from native_host.devtools import browsers

from .conftest import run

PACKAGE_DIR = Path("/usr/lib/tracker2fa")
HOST = PACKAGE_DIR / "bin" / "tracker2fa-host"
LAUNCHER = PACKAGE_DIR / "tracker2fa-host"
MANIFEST_DIRS = sorted({Path(folder) for b in BROWSERS.values() for folder in b.linux_system})
# Everywhere a file of ours can be: what the package ships, what postinst writes, what dpkg keeps about it.
# Whole trees where only we write; for folders other suites also use (/etc/chromium holds policies, which
# their tests mount over), only whether they exist.
TREES = [
    PACKAGE_DIR,
    Path("/usr/local/lib/tracker2fa"),
    Path("/etc/tracker2fa"),
    Path("/usr/share/doc/tracker2fa"),
    *MANIFEST_DIRS,
]
ENTRIES = [
    Path("/usr/bin/tracker2fa"),
    Path("/usr/share/man/man1/tracker2fa.1.gz"),
    *sorted({d.parent for d in MANIFEST_DIRS}),
    *sorted({d.parent.parent for d in MANIFEST_DIRS}),
]
# A registration made before this module (by `install --system`), moved aside and put back.
REGISTRATION = [
    *(d / f"{HOST_NAME}.json" for d in MANIFEST_DIRS),
    Path("/etc/tracker2fa"),
    Path("/usr/local/lib/tracker2fa/tracker2fa-host"),
]


def listing() -> set[str]:
    """Every path in the trees, the entries that exist, and dpkg's own files about the package."""
    found = {str(p) for p in ENTRIES if os.path.lexists(p)}
    for tree in TREES:
        if tree.is_dir():
            found.add(str(tree))
            found.update(str(p) for p in tree.rglob("*"))
    found.update(str(p) for p in Path("/var/lib/dpkg/info").glob("tracker2fa.*"))
    return found


def dpkg(*args: str) -> subprocess.CompletedProcess[str]:
    """dpkg, waiting for its lock when another apt or dpkg holds it (other suites may install packages)."""
    deadline = time.monotonic() + 300
    while True:
        done = subprocess.run(["dpkg", *args], capture_output=True, text=True, check=False)
        if done.returncode == 0 or "lock" not in done.stderr or time.monotonic() > deadline:
            assert done.returncode == 0, f"dpkg {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
            return done
        time.sleep(2)


def is_installed() -> bool:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "tracker2fa"], capture_output=True, text=True)
    return done.returncode == 0 and "installed" in done.stdout and "not-installed" not in done.stdout


@contextlib.contextmanager
def registration_moved_aside(backup: Path) -> Iterator[None]:
    moved = []
    for path in REGISTRATION:
        if path.exists() or path.is_symlink():
            target = backup / str(path).lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
            moved.append((path, target))
    try:
        yield
    finally:
        for path, target in moved:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(target, path)


@pytest.fixture(scope="module")
def installed(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if os.geteuid() != 0:
        pytest.skip("installing a Debian package needs root")
    assert not is_installed(), "a tracker2fa package is already installed on this machine: remove it first"
    backup = tmp_path_factory.mktemp("registration-before")
    with registration_moved_aside(backup):
        before = listing()
        try:
            done = dpkg("-i", str(deb))
            yield {"before": before, "dpkg_output": done.stdout, "deb": deb}
        finally:
            if is_installed():
                dpkg("--purge", "tracker2fa")


def test_lintian_reports_no_errors(deb):
    done = subprocess.run(
        ["lintian", "--tag-display-limit", "0", str(deb)], capture_output=True, text=True, timeout=600, check=False
    )
    errors = [line for line in done.stdout.splitlines() if line.startswith("E:")]
    assert errors == [], done.stdout
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_package_holds_the_host_its_dependencies_and_the_command(deb):
    contents = run(["dpkg-deb", "-c", deb]).stdout
    assert "./usr/bin/tracker2fa -> ../lib/tracker2fa/bin/tracker2fa" in contents
    assert "./usr/lib/tracker2fa/bin/python -> ../../../bin/python3" in contents
    assert "./usr/lib/tracker2fa/bin/tracker2fa-host" in contents
    assert "./usr/lib/tracker2fa/pyvenv.cfg" in contents
    for package in ("native_host", "fido2", "cryptography", "platformdirs", "idna", "zxcvbn"):
        assert f"/site-packages/{package}/__init__.py" in contents, package
    assert "__pycache__" not in contents and ".pyc" not in contents  # compiled by postinst, as Debian does
    control = run(["dpkg-deb", "-f", deb, "Depends", "Version"]).stdout
    assert f"Version: {__version__}-1" in control
    assert "python3 (>= 3." in control


def test_the_host_runs_on_root_owned_debians_python(installed):
    interpreter = HOST.read_text().splitlines()[0]
    assert interpreter == f"#!{PACKAGE_DIR}/bin/python -I"
    assert os.path.realpath(PACKAGE_DIR / "bin" / "python") == os.path.realpath("/usr/bin/python3")
    assert (PACKAGE_DIR / "pyvenv.cfg").read_text().startswith("home = /usr/bin\ninclude-system-site-packages = false")


def test_postinst_registers_the_host_for_every_browser_through_the_launcher(installed):
    for folder in MANIFEST_DIRS:
        if folder.parts[:3] == ("/", "usr", "lib64") and not Path("/usr/lib64").is_dir():
            continue
        manifest = json.loads((folder / f"{HOST_NAME}.json").read_text())
        assert manifest["path"] == str(LAUNCHER), folder
    assert f"exec {HOST} " in LAUNCHER.read_text()
    assert json.loads(Path("/etc/tracker2fa/host.json").read_text())["chromium_extension_ids"] == [DEV_EXTENSION_ID]
    assert not Path("/usr/local/lib/tracker2fa").exists()  # a package never writes under /usr/local


def test_doctor_system_reports_everything_in_place(installed, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    done = subprocess.run(
        ["/usr/bin/tracker2fa", "doctor", "--system", "--json"], capture_output=True, text=True, env=env, check=False
    )
    report = json.loads(done.stdout)
    assert report["problems"] == [], report["problems"]
    assert report["host_answers"] is True
    assert report["host_path"] == str(HOST)
    assert {m["browser"] for m in report["manifests"] if m["present"] and m["scope"] == "system"} == set(BROWSERS)
    assert done.returncode == 0


def host_processes(home: Path) -> list[list[str]]:
    """The command lines of the host processes a browser with this HOME started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"HOME={home}".encode() in environ and any(b"tracker2fa-host" in part for part in cmdline):
            found.append([part.decode() for part in cmdline if part])
    return found


def wait_for(check, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.mark.browser
def test_chromium_with_a_fresh_profile_starts_the_host_from_usr_lib(installed, playwright_instance, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    profile = tmp_path / "profile"  # fresh: no per-user manifest, so only the package's can answer
    context = browsers.launch_chromium(playwright_instance, profile, browsers.profile_env(home, vault=tmp_path / "v"))
    try:
        worker = browsers.chromium_service_worker(context)
        reply = worker.evaluate(
            "(name) => chrome.runtime.sendNativeMessage(name, {id: 1, method: 'hello', params: {}})", HOST_NAME
        )
        assert reply["id"] == 1
        assert reply["result"]["version"] == __version__
        # The extension's own port keeps a host running: it is the package's, started through its launcher.
        worker.evaluate("(name) => { self.keepHost = chrome.runtime.connectNative(name); }", HOST_NAME)
        processes = wait_for(lambda: host_processes(home))
        assert processes and all(str(HOST) in argv for argv in processes), processes
    finally:
        context.close()
    assert not (profile / "NativeMessagingHosts" / f"{HOST_NAME}.json").exists()


@pytest.mark.browser
def test_firefox_with_a_fresh_profile_starts_the_host_from_usr_lib(installed, tmp_path):
    from native_host.vault import VaultFile
    from tests.e2e_extension.conftest import PASSWORD, serve_pages

    home = tmp_path / "home"
    home.mkdir()
    vault = tmp_path / "vault.json"
    VaultFile(vault).create(PASSWORD, kdf_cost="minimum").lock()
    with contextlib.ExitStack() as stack:
        firefox = browsers.FirefoxBidi.start(tmp_path / "profile", browsers.profile_env(home, vault=vault))
        stack.callback(firefox.close)
        firefox.install_extension()
        pages = stack.enter_context(serve_pages())
        tab = firefox.call("browsingContext.getTree", {})["contexts"][0]["context"]
        firefox.navigate(tab, pages.url("/pages/atlassian.html"))
        # The page's fill control asks the extension for its state: the service worker sends the host `hello`
        # and `vault.status` (extension/background/service_worker.js, status()); "locked" means both answered.
        control = "document.querySelector('[data-tracker2fa-fill]')"
        position = (
            f"(() => {{ const e = {control}; if (!e) return null; const r = e.getBoundingClientRect(); "
            "return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        firefox.click(tab, *wait_for(lambda: _evaluate(firefox, tab, position)))
        shadow = f"{control}.shadowRoot"
        panel = f"{shadow}.querySelector('[data-action=unlock]') && {shadow}.querySelector('.panel').textContent"
        assert "locked" in (wait_for(lambda: _evaluate(firefox, tab, panel)) or "")
        processes = wait_for(lambda: host_processes(home))  # the extension's port to the host stays open
        assert processes and all(str(HOST) in argv for argv in processes), processes
    assert not (home / ".mozilla" / "native-messaging-hosts").exists()


def _evaluate(firefox: browsers.FirefoxBidi, tab: str, expression: str) -> Any:
    with contextlib.suppress(browsers.BrowserError):
        return firefox.evaluate(tab, expression)
    return None


def test_reinstalling_the_package_rewrites_the_same_registration(installed):
    files = [d / f"{HOST_NAME}.json" for d in MANIFEST_DIRS] + [LAUNCHER, Path("/etc/tracker2fa/host.json")]
    before = {str(f): f.read_bytes() for f in files if f.exists()}
    dpkg("-i", str(installed["deb"]))  # prerm upgrade, then postinst configure: install --system once more
    assert {str(f): f.read_bytes() for f in files if f.exists()} == before


def test_purge_leaves_no_file_of_ours(installed):
    shipped = [line for line in dpkg("-L", "tracker2fa").stdout.splitlines() if line.startswith("/")]
    compiled = list(PACKAGE_DIR.rglob("*.pyc"))
    assert compiled, "postinst compiles the bytecode"
    dpkg("--purge", "tracker2fa")
    assert listing() == installed["before"]
    ours = [p for p in shipped if "tracker2fa" in p]
    assert [p for p in ours if os.path.lexists(p)] == []
    assert [p for p in compiled if p.exists()] == []
