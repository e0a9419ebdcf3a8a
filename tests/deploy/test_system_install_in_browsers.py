"""A system-wide install (`tracker2fa install --system`) is found and started by real browsers.

The install is written under a temporary root, then its folders are mounted at their real places for the
browser process only (private mount namespace, see policy_sandbox.py): the browser finds the system-level
manifest in ``/etc/chromium/native-messaging-hosts/`` or ``/usr/lib/mozilla/native-messaging-hosts/``,
starts the generated launcher, and the launcher starts the host with the machine's configuration.
Missing mount points (``/etc/tracker2fa``…) are created empty for the test and removed afterwards.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from native_host import HOST_NAME
from native_host.deploy.registration import install
from native_host.devtools import browsers

from .conftest import host_executable
from .policy_sandbox import mount_point, namespaced_launcher

pytestmark = pytest.mark.browser

HOST = "/opt/tracker2fa/bin/tracker2fa-host"


def system_install(root: Path, browser: str) -> dict[Path, Path]:
    """Install for ``browser`` system-wide under ``root``; return {real folder: its copy under root}."""
    host = root / HOST.lstrip("/")
    host.parent.mkdir(parents=True)
    shutil.copy2(host_executable(), host)
    install([browser], os_name="linux", system=True, root=root, home="/root", host_path=HOST)
    folders = ["/opt/tracker2fa", "/usr/local/lib/tracker2fa", "/etc/tracker2fa"]
    folders.append(
        "/etc/chromium/native-messaging-hosts" if browser == "chromium" else "/usr/lib/mozilla/native-messaging-hosts"
    )
    return {Path(f): root / f.lstrip("/") for f in folders}


def test_chromium_starts_the_system_wide_host_through_the_launcher(playwright_instance: Any, tmp_path: Path):
    binds = system_install(tmp_path / "root", "chromium")
    launcher = namespaced_launcher(tmp_path / "chromium", browsers.CHROMIUM_PATH, binds)
    with contextlib.ExitStack() as stack:
        for real in binds:
            stack.enter_context(mount_point(real))
        profile = tmp_path / "profile"  # no per-user manifest in it: only the system one can answer
        env = browsers.profile_env(tmp_path / "home", vault=tmp_path / "vault.json")
        context = playwright_instance.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(launcher),
            headless=True,
            args=[
                *browsers.CHROMIUM_ARGS,
                f"--disable-extensions-except={browsers.EXTENSION_DIR}",
                f"--load-extension={browsers.EXTENSION_DIR}",
            ],
            env=env,
        )
        stack.callback(context.close)
        worker = browsers.chromium_service_worker(context)
        reply = worker.evaluate(
            "(name) => chrome.runtime.sendNativeMessage(name, {id: 1, method: 'vault.status', params: {}})",
            HOST_NAME,
        )
        assert reply["id"] == 1
        assert reply["result"]["path"] == str(tmp_path / "vault.json")
        assert not (profile / "NativeMessagingHosts" / f"{HOST_NAME}.json").exists()


def test_firefox_starts_the_system_wide_host_through_the_launcher(tmp_path: Path):
    from native_host.vault import VaultFile
    from tests.e2e_extension.conftest import PASSWORD, serve_pages

    binds = system_install(tmp_path / "root", "firefox")
    launcher = namespaced_launcher(tmp_path / "firefox", browsers.FIREFOX_PATH, binds)
    vault = tmp_path / "vault.json"
    VaultFile(vault).create(PASSWORD, kdf_cost="minimum").lock()
    home = tmp_path / "home"
    home.mkdir()
    with contextlib.ExitStack() as stack:
        for real in binds:
            stack.enter_context(mount_point(real))
        original, browsers.FIREFOX_PATH = browsers.FIREFOX_PATH, str(launcher)
        stack.callback(setattr, browsers, "FIREFOX_PATH", original)
        bidi = browsers.FirefoxBidi.start(tmp_path / "profile", browsers.profile_env(home, vault=vault))
        stack.callback(bidi.close)
        bidi.install_extension()
        assert not (home / ".mozilla" / "native-messaging-hosts").exists()  # only the system manifest
        pages = stack.enter_context(serve_pages())
        tab = bidi.call("browsingContext.getTree", {})["contexts"][0]["context"]
        bidi.navigate(tab, pages.url("/pages/atlassian.html"))
        control = "document.querySelector('[data-tracker2fa-fill]')"
        position = (
            f"(() => {{ const e = {control}; if (!e) return null; const r = e.getBoundingClientRect(); "
            "return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        bidi.click(tab, *_poll(bidi, tab, position))
        # The host answered: the vault it opened is there and locked (without a host: "run tracker2fa install").
        message = _poll(
            bidi,
            tab,
            f"{control}.shadowRoot.querySelector('[data-action=unlock]') && "
            f"{control}.shadowRoot.querySelector('.panel').textContent",
        )
        assert "locked" in message


def _poll(bidi: browsers.FirefoxBidi, context: str, expression: str, timeout: float = 30) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(browsers.BrowserError):
            value = bidi.evaluate(context, expression)
            if value:
                return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.2)
