"""Real Chromium: the manifest `tracker2fa install --user-data-dir` writes is accepted and the host answers.

A minimal extension carrying the development `key` (so Chromium gives it the development id) talks to the
host from its service worker, exactly as the product extension does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from native_host import DEV_EXTENSION_ID, HOST_NAME
from native_host.cli import main as cli_main

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"

WORKER_JS = """
self.callHost = (message) => chrome.runtime.sendNativeMessage(%(host)r, message);
self.portExchange = (messages) => new Promise((resolve) => {
  const port = chrome.runtime.connectNative(%(host)r);
  const replies = [];
  port.onMessage.addListener((m) => {
    replies.push(m);
    if (replies.length === messages.length) { port.disconnect(); resolve({replies}); }
  });
  port.onDisconnect.addListener(() => resolve({replies, error: chrome.runtime.lastError?.message}));
  for (const m of messages) port.postMessage(m);
});
"""


@pytest.fixture(scope="module")
def chromium_worker(tmp_path_factory, playwright_instance):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    root = tmp_path_factory.mktemp("chromium")
    home, profile, ext = root / "home", root / "profile", root / "ext"
    home.mkdir()
    ext.mkdir()
    key = json.loads((REPO / "extension" / "manifest.json").read_text())["key"]
    (ext / "manifest.json").write_text(
        json.dumps(
            {
                "manifest_version": 3,
                "name": "tracker2fa host probe",
                "version": "1.0",
                "key": key,
                "permissions": ["nativeMessaging"],
                "background": {"service_worker": "worker.js"},
            }
        )
    )
    (ext / "worker.js").write_text(WORKER_JS % {"host": HOST_NAME})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER2FA_", "XDG_"))}
    env.update(HOME=str(home), TRACKER2FA_CONFIG=str(root / "host.json"), TRACKER2FA_VAULT=str(root / "vault.json"))
    saved = dict(os.environ)
    os.environ.update(TRACKER2FA_CONFIG=env["TRACKER2FA_CONFIG"], HOME=str(home))
    try:
        assert cli_main(["install", "--browser", "chromium", "--user-data-dir", str(profile)]) == 0
    finally:
        os.environ.clear()
        os.environ.update(saved)
    pw = playwright_instance
    context = pw.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        env=env,
        args=[
            f"--disable-extensions-except={ext}",
            f"--load-extension={ext}",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )
    try:
        worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
        assert f"chrome-extension://{DEV_EXTENSION_ID}/" in worker.url
        yield worker
    finally:
        context.close()


def test_chromium_accepts_the_installed_manifest_and_the_host_says_hello(chromium_worker):
    reply = chromium_worker.evaluate("callHost({id: 1, method: 'hello'})")
    assert reply["id"] == 1
    assert reply["result"]["protocol"] == 1


def test_a_port_carries_several_requests_and_error_replies(chromium_worker):
    outcome = chromium_worker.evaluate(
        "portExchange([{id: 'a', method: 'hello'}, {id: 'b', method: 'no.such'}, {id: 'c', method: 'vault.lock'}])"
    )
    replies = {r["id"]: r for r in outcome["replies"]}
    assert replies["a"]["result"]["protocol"] == 1
    assert replies["b"]["error"]["code"] == "unknown_method"
    assert replies["c"]["result"] == {"unlocked": False}
