"""Real Firefox ESR: the manifest `tracker2fa install --browser firefox` writes is accepted, the host answers the
allowed add-on (Firefox's argv form: manifest path + add-on id), and another add-on is refused.

Each probe add-on's background script asks the host for `hello` and reports the outcome by opening one of
its own pages with the outcome in the URL fragment, which BiDi's `browsingContext.getTree` can read.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.parse
from pathlib import Path

import pytest

from native_host import GECKO_EXTENSION_ID, HOST_NAME

pytestmark = pytest.mark.browser

PROBE_JS = """
browser.runtime.sendNativeMessage(%(host)s, {id: 1, method: "hello"})
  .then((reply) => ({who: %(who)s, reply}), (err) => ({who: %(who)s, error: String(err)}))
  .then((out) => browser.tabs.create({url: "probe.html#" + encodeURIComponent(JSON.stringify(out))}));
"""


def write_probe(directory: Path, addon_id: str) -> Path:
    directory.mkdir(parents=True)
    manifest = {
        "manifest_version": 2,
        "name": f"probe {addon_id}",
        "version": "1.0",
        "permissions": ["nativeMessaging"],
        "background": {"scripts": ["probe.js"]},
        "browser_specific_settings": {"gecko": {"id": addon_id, "strict_min_version": "115.0"}},
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    (directory / "probe.js").write_text(PROBE_JS % {"host": json.dumps(HOST_NAME), "who": json.dumps(addon_id)})
    (directory / "probe.html").write_text("<!doctype html><title>probe</title>")
    return directory


def outcomes(firefox, count: int, deadline_s: float = 60.0) -> dict[str, dict]:
    """Wait (up to a generous deadline, not a timing assertion) for ``count`` probe pages; return their outcomes."""
    found: dict[str, dict] = {}
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and len(found) < count:
        for context in firefox.call("browsingContext.getTree", {})["contexts"]:
            url = context["url"]
            if url.startswith("moz-extension://") and "#" in url:
                outcome = json.loads(urllib.parse.unquote(url.split("#", 1)[1]))
                found[outcome["who"]] = outcome
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def firefox_outcomes(tmp_path_factory):
    if not shutil.which("firefox-esr") and not Path("/usr/bin/firefox-esr").exists():
        pytest.skip("firefox-esr is not installed")
    from native_host.devtools import browsers
    root = tmp_path_factory.mktemp("firefox")
    home = root / "home"
    home.mkdir()
    env = browsers.profile_env(home, vault=root / "vault.json")
    browsers.register_host("firefox", env)  # runs `tracker2fa install --browser firefox` in that HOME
    allowed = write_probe(root / "allowed", GECKO_EXTENSION_ID)
    other = write_probe(root / "other", "someone-else@tracker2fa.test")
    firefox = browsers.FirefoxBidi.start(root / "profile", env)
    try:
        firefox.install_extension(allowed)
        firefox.install_extension(other)
        yield outcomes(firefox, 2), home
    finally:
        firefox.close()


def test_firefox_accepts_the_installed_manifest_and_the_host_says_hello(firefox_outcomes):
    found, home = firefox_outcomes
    assert (home / ".mozilla" / "native-messaging-hosts" / f"{HOST_NAME}.json").exists()
    outcome = found[GECKO_EXTENSION_ID]
    assert outcome["reply"]["id"] == 1
    assert outcome["reply"]["result"]["protocol"] == 1


def test_firefox_refuses_an_add_on_the_manifest_does_not_list(firefox_outcomes):
    found, _ = firefox_outcomes
    outcome = found["someone-else@tracker2fa.test"]
    assert "reply" not in outcome
    assert outcome["error"]
