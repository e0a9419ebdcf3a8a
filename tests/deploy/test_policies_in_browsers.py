"""Real browsers read the generated policy files from where admins put them, and the extension obeys them.

- Chromium: the generated Linux policy in ``/etc/chromium/policies/managed/`` force-installs the CRX that
  ``tracker2fa pack`` signed, from an update manifest served on loopback; the installed extension's
  ``chrome.storage.managed`` holds the admin's settings and its options page shows them locked.
- Firefox ESR: the generated ``policies.json`` (in the distribution folder, and in ``/etc/firefox-esr/policies``)
  reaches the add-on's ``browser.storage.managed``.

The policy folders are replaced for the browser process only (see policy_sandbox.py), so other suites'
browsers running at the same time never see these policies.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from native_host import GECKO_EXTENSION_ID
from native_host.deploy.managed_schema import extension_dir, load_schema
from native_host.deploy.pack import pack
from native_host.deploy.policy import PolicyRequest, policy_files
from native_host.deploy.registration import install
from native_host.devtools import browsers
from tests.e2e_extension.conftest import PASSWORD, serve_pages

from .cdp import Chromium
from .policy_sandbox import mount_point, namespaced_launcher, overlay

pytestmark = pytest.mark.browser

SETTINGS = {
    "autoSubmit": True,
    "autoFill": True,
    "trackerOrigins": ["https://jira.example.com"],
    "autoLockSeconds": 600,
    "siteRules": [{"name": "Corp Jira", "urlPattern": "^https://jira\\.example\\.com/", "fieldSelector": "#otp"}],
}


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[int]:
    """Serve ``folder`` over HTTP on 127.0.0.1; yields the port."""
    folder.mkdir(parents=True, exist_ok=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def poll(check: Any, timeout: float = 90.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_chromium_force_installs_the_packed_crx_and_its_managed_storage_holds_the_settings(tmp_path: Path) -> None:
    served = tmp_path / "served"
    with serve_folder(served) as port:
        packed = pack(extension_dir(), tmp_path / "admin-key.pem", served, f"http://127.0.0.1:{port}", new_key=True)
        url = f"http://127.0.0.1:{port}/updates.xml"
        (policy,) = policy_files(PolicyRequest("linux", "chromium", packed.extension_id, url, SETTINGS), load_schema())
        assert policy.destination == "/etc/chromium/policies/managed/tracker2fa.json"
        # A second file, the test's own: Chromium keeps DevTools off force-installed extensions by default.
        devtools = json.dumps({"DeveloperToolsAvailability": 1}).encode()
        managed = {"policies/managed/tracker2fa.json": policy.content.encode(), "policies/managed/test.json": devtools}
        etc = overlay(Path("/etc/chromium"), tmp_path / "etc-chromium", managed)
        launcher = namespaced_launcher(tmp_path / "chromium", browsers.CHROMIUM_PATH, {Path("/etc/chromium"): etc})
        args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
        browser = Chromium(str(launcher), tmp_path / "profile", args, browsers.profile_env(tmp_path / "home"))
        try:
            worker = f"chrome-extension://{packed.extension_id}/background/service_worker.js"
            poll(
                lambda: any(t["url"] == worker for t in browser.targets()),
                what=f"Chromium to force-install {packed.extension_id} from the policy",
            )
            options = browser.open_page(f"chrome-extension://{packed.extension_id}/options/options.html")
            poll(lambda: browser.evaluate(options, "document.body?.dataset.ready === 'true'"), 30, "the options page")
            assert browser.evaluate(options, "chrome.runtime.id") == packed.extension_id
            # The extension's policy applies once Chromium has registered its schema, just after the install.
            managed = poll(lambda: browser.evaluate(options, "chrome.storage.managed.get(null)"), 30, "managed storage")
            assert managed == SETTINGS
            # A fresh options page, now that the settings are there: the extension shows them as the admin's.
            options = browser.open_page(f"chrome-extension://{packed.extension_id}/options/options.html")
            poll(lambda: browser.evaluate(options, "document.body?.dataset.ready === 'true'"), 30, "the options page")
            view = browser.evaluate(
                options,
                "(() => { const $ = (id) => document.getElementById(id); return {"
                " note: !$('managed-note').hidden,"
                " autoSubmit: [$('auto-submit').checked, $('auto-submit').disabled],"
                " autoFill: $('auto-fill-managed').textContent,"
                " autoLock: [$('auto-lock').value, $('auto-lock').disabled],"
                " lockedRules: [...document.querySelectorAll('#rules tr.locked [data-field=name]')].map((i) => i.value)"
                "}; })()",
            )
            assert view == {
                "note": True,
                "autoSubmit": [True, True],
                "autoFill": "Your administrator enables auto-fill on: https://jira.example.com",
                "autoLock": ["600", True],
                "lockedRules": ["Corp Jira"],
            }
        finally:
            browser.close()


CONTROL = "document.querySelector('[data-tracker2fa-fill]')"


def _wait(bidi: browsers.FirefoxBidi, context: str, expression: str, timeout: float = 30) -> Any:
    def attempt() -> Any:
        try:
            return bidi.evaluate(context, expression)
        except browsers.BrowserError:
            return None  # between documents

    return poll(attempt, timeout, expression)


def _popup_from_the_page(bidi: browsers.FirefoxBidi, page_url: str) -> str:
    """Open the extension's popup the way a user does (BiDi cannot navigate to moz-extension:// itself)."""
    tab = bidi.call("browsingContext.getTree", {})["contexts"][0]["context"]
    bidi.navigate(tab, page_url)
    position = (
        "(() => { const e = %s; if (!e) return null; const r = e.getBoundingClientRect(); "
        "return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    bidi.click(tab, *_wait(bidi, tab, position % CONTROL))
    unlock = f"{CONTROL}.shadowRoot.querySelector('[data-action=unlock]')"
    bidi.click(tab, *_wait(bidi, tab, position % unlock))

    def popup_tab() -> str | None:
        for ctx in bidi.call("browsingContext.getTree", {})["contexts"]:
            if ctx["url"].startswith(browsers.firefox_extension_url("popup/popup.html")):
                return str(ctx["context"])
        return None

    return poll(popup_tab, 30, "the extension to open its popup")


@pytest.mark.parametrize(
    ("folder", "relative"),
    [
        ("/usr/lib/firefox-esr/distribution", "policies.json"),  # <install>/distribution/
        ("/etc/firefox", "policies/policies.json"),  # the system-wide place on Linux
    ],
)
def test_firefox_reads_the_generated_policies_json_into_managed_storage(tmp_path: Path, folder: str, relative: str):
    from native_host.vault import VaultFile

    real = Path(folder)
    packed = pack(extension_dir(), tmp_path / "admin-key.pem", tmp_path / "served", "http://127.0.0.1:9", new_key=True)
    request = PolicyRequest("linux", "firefox", GECKO_EXTENSION_ID, packed.xpi.as_uri(), SETTINGS)
    policy = next(p for p in policy_files(request, load_schema()) if p.name.endswith("policies.json"))
    replacement = overlay(real, tmp_path / "overlay", {relative: policy.content.encode()})
    launcher = namespaced_launcher(tmp_path / "firefox", browsers.FIREFOX_PATH, {real: replacement})

    home = tmp_path / "home"
    home.mkdir()
    vault = tmp_path / "vault.json"
    VaultFile(vault).create(PASSWORD, kdf_cost="minimum").lock()
    env = browsers.profile_env(home, vault=vault)
    with contextlib.ExitStack() as stack:
        stack.enter_context(mount_point(real))
        _register_firefox_host(home, env)
        profile = tmp_path / "profile"
        browsers.prepare_firefox_profile(profile)
        with (profile / "user.js").open("a") as prefs:
            # ESR may install an unsigned add-on when told to; release Firefox needs it signed (docs/admin-guide.md).
            prefs.write('user_pref("xpinstall.signatures.required", false);\n')
        original_path, browsers.FIREFOX_PATH = browsers.FIREFOX_PATH, str(launcher)
        stack.callback(setattr, browsers, "FIREFOX_PATH", original_path)
        bidi = _start_without_resetting_prefs(profile, env)
        stack.callback(bidi.close)
        with serve_pages() as pages:
            popup = _popup_from_the_page(bidi, pages.url("/pages/atlassian.html"))
            assert _wait(bidi, popup, "browser.runtime.id") == GECKO_EXTENSION_ID
            assert bidi.evaluate(popup, "browser.storage.managed.get(null)") == SETTINGS


def _register_firefox_host(home: Path, env: dict[str, str]) -> None:
    import os

    saved = {k: os.environ.get(k) for k in ("HOME", "TRACKER2FA_CONFIG")}
    os.environ.update(HOME=env["HOME"], TRACKER2FA_CONFIG=env["TRACKER2FA_CONFIG"])
    try:
        install(["firefox"], host_path=browsers.host_executable())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _start_without_resetting_prefs(profile: Path, env: dict[str, str]) -> browsers.FirefoxBidi:
    """FirefoxBidi.start rewrites user.js; keep ours (it adds the signature pref)."""
    prefs = (profile / "user.js").read_text()
    original = browsers.prepare_firefox_profile

    def keep(path: Path) -> None:
        original(path)
        (path / "user.js").write_text(prefs)

    browsers.prepare_firefox_profile = keep
    try:
        return browsers.FirefoxBidi.start(profile, env)
    finally:
        browsers.prepare_firefox_profile = original
