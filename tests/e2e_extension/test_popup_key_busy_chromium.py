"""The popup's "Unlock with security key" while the key serves another request, in headless Chromium with the
real host and the virtual key: the host's own `fido.key_busy` event for the waiting vault.unlock is shown
beside the control, Cancel still ends the wait, and the message goes once the key answers.

The key is held the way a real key is: a page's registration (through the extension's bridge) waits for
the key's PIN, so the key unlock started from the popup finds it busy and waits."""

# ruff: noqa: F811 (test functions take the imported `start` fixture by its name)

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.shared import Shared

from .conftest import SECRET, Chromium, PageServer, make_vault, shared_chromium
from .fido_support import consent_window, enable_security_keys, hold_key_with_a_registration
from .test_i18n import catalog
from .test_popup_key_unlock import enrol_virtual_key, locked_popup, start  # noqa: F401 (the start fixture)

pytestmark = pytest.mark.browser
BUSY = catalog("en")["popup_key_busy"]["message"]
WAITING = catalog("en")["popup_key_waiting"]["message"]
TOUCH = catalog("en")["popup_key_touch"]["message"]
# Every text #key-status shows, in order (each render() puts a new text node in it), from the popup's start.
RECORD_STATUSES = """() => { window.statuses = [];
  new MutationObserver((records) => { for (const r of records) for (const n of r.addedNodes)
    if (n.nodeType === Node.TEXT_NODE) window.statuses.push(n.data); })
  .observe(document.getElementById('key-status'), {childList: true}); }"""


@pytest.fixture(scope="module")
def shared_browser(
    start: Callable[..., Chromium], tmp_path_factory: pytest.TempPathFactory, pages: PageServer
) -> Iterator[Shared[Chromium]]:
    def new_browser() -> Chromium:
        from native_host.fido.softkey.store import KeyStore

        root = tmp_path_factory.mktemp("key-busy")
        vault, vkey = root / "vault.json", root / "vkey.json"
        store = KeyStore()
        store.pin_hash = hashlib.sha256(b"4711-pin").digest()[:16]
        store.save(vkey)
        make_vault(vault, [{"secret": SECRET, "issuer": "Jira", "account": "ann"}])
        enrol_virtual_key(vault, vkey)
        b = start(vault, vkey)
        enable_security_keys(b, pages.origin("localhost"))
        return b

    with shared_chromium(new_browser) as shared:
        yield shared


@pytest.fixture
def browser(shared_browser: Shared[Chromium], request: pytest.FixtureRequest) -> Iterator[Chromium]:
    """A browser whose enrolled virtual key has a PIN (a page's registration asking for user verification
    waits for it, holding the key) and the bridge on for the test pages."""
    yield from shared_browser.for_test(request)


@pytest.fixture
def key_held(browser: Chromium, pages: PageServer) -> Iterator[Any]:
    """A page whose registration holds the key, waiting for its PIN; closing the page frees the key."""
    page = hold_key_with_a_registration(browser, pages.url("/pages/fido_legacy.html", host="localhost"))
    yield page
    if not page.is_closed():
        page.close()


def busy_unlock(browser: Chromium) -> Any:
    """The locked popup after "Unlock with security key", once it says the key is busy."""
    popup = locked_popup(browser)
    popup.evaluate(RECORD_STATUSES)
    popup.locator("#unlock-key").click()
    # The busy message, or the error that ended the unlock instead (the test then fails with its text).
    shown = popup.wait_for_function(
        """(busy) => { const s = document.getElementById('key-status'), e = document.getElementById('unlock-error');
             if (!e.hidden) return 'error: ' + e.textContent;
             return !s.hidden && s.textContent === busy && 'busy'; }""",
        arg=BUSY,
        timeout=30000,
    ).json_value()
    assert shown == "busy", shown
    return popup


def test_the_popup_says_the_key_is_busy_and_cancel_still_ends_the_wait(browser: Chromium, key_held: Any) -> None:
    popup = busy_unlock(browser)
    assert popup.locator("#key-status").text_content() == BUSY
    assert popup.locator("#key-status").get_attribute("role") == "status"  # read out by screen readers
    assert popup.locator("#unlock-key").is_hidden()
    assert popup.locator("#cancel-key").is_visible()
    popup.locator("#cancel-key").click()
    popup.wait_for_selector("#unlock-error:not([hidden])", timeout=30000)
    assert popup.locator("#unlock-error").get_attribute("data-code") == "fido_cancelled"
    assert popup.locator("#key-status").is_hidden()
    assert popup.locator("#unlock-key").is_visible()
    assert browser.host_request("vault.status")["unlocked"] is False
    # The page's registration was not touched by the unlock's cancel: it still waits for the PIN.
    assert consent_window(browser).locator("body[data-state=pin]").count() == 1
    popup.close()


def test_the_busy_message_goes_when_the_key_answers_and_the_vault_unlocks(browser: Chromium, key_held: Any) -> None:
    popup = busy_unlock(browser)
    key_held.close()  # the page's request ends: the key is free and answers the waiting unlock
    popup.wait_for_selector("body[data-vault=unlocked]", timeout=30000)
    assert browser.host_request("vault.status")["unlocked"] is True
    shown = popup.evaluate("window.statuses")
    statuses = [s for i, s in enumerate(shown) if i == 0 or s != shown[i - 1]]  # render() repeats a text
    # The key answered (the host's fido.selected) before the unlock's reply: the busy message was replaced.
    assert statuses[statuses.index(BUSY) :] == [BUSY, WAITING], shown
    popup.close()
    browser.lock()


def test_a_key_that_waits_for_a_touch_after_being_busy_says_touch_your_key(browser: Chromium, key_held: Any) -> None:
    popup = busy_unlock(browser)
    # The one synthetic step (as in test_popup_key_unlock.py): the virtual key never waits for a touch, so
    # the host's fido.touch for the waiting vault.unlock is fed to the service worker's real host connection.
    browser.background(
        "(() => { const [id] = [...host.pending].find(([, w]) => w.method === 'vault.unlock');"
        " host.receive(host.port, {event: 'fido.touch', id, device: 'virtual'}); })()"
    )
    popup.locator("#key-status", has_text=TOUCH).wait_for(state="visible", timeout=5000)
    assert popup.locator("#cancel-key").is_visible()
    popup.locator("#cancel-key").click()
    popup.wait_for_selector("#unlock-error:not([hidden])", timeout=30000)
    assert popup.locator("#unlock-error").get_attribute("data-code") == "fido_cancelled"
    popup.close()
