"""Firefox ESR (headless, WebDriver BiDi) with the real host and its virtual key: the popup's "Unlock with
security key", and the PIN form of the extension's consent window with the right and a wrong PIN. The
Chromium counterparts are test_popup_key_unlock.py and test_fido_bridge_chromium.py.

BiDi may not navigate a tab to a moz-extension:// URL, so the popup is reached as a user reaches it from a
page: the page's inline control says the vault is locked and its Unlock button opens the popup in a tab."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from native_host.devtools import browsers
from tests.support.shared import Shared

from .conftest import PAGES, SECRET, PageServer, host_pids_for_home, kill_pid, make_vault, valid_codes
from .fido_support import (
    OURS_IN_THE_PAGE,
    firefox_click,
    firefox_confirm,
    firefox_consent_state,
    virtual_key_env,
)
from .test_fido_bridge_firefox import firefox_with_the_bridge
from .test_firefox import CONTROL, Firefox
from .test_i18n import catalog
from .test_popup_key_unlock import enrol_virtual_key

pytestmark = pytest.mark.browser
PIN = "4711-pin"
CODE_INPUT = "document.getElementById('two-step-verification-otp-code-input').value"
# A registration asking for user verification: the virtual key has a PIN, so the consent window asks for it.
CREATE_WITH_PIN = """(() => { window.pending = navigator.credentials.create({publicKey: {
    rp: {name: "T", id: "localhost"}, user: {id: new Uint8Array(8), name: "a", displayName: "A"},
    challenge: new Uint8Array(32), authenticatorSelection: {userVerification: "required"},
    pubKeyCredParams: [{type: "public-key", alg: -7}]}}).then((c) => c.id, (e) => `${e.name}: ${e.message}`);
  window.pending.then((outcome) => { window.settled = outcome; });
  return true; })()"""
PENDING = "Promise.race([pending, new Promise((r) => setTimeout(() => r('no answer'), 20000))])"


class KeyFirefox(Firefox):
    def __init__(self, bidi: browsers.FirefoxBidi, home: Path, vkey: Path) -> None:
        super().__init__(bidi, home)
        self.vkey = vkey

    def pin_retries(self) -> int:
        """The virtual key's PIN retries counter, as the key saved it."""
        from native_host.fido.softkey.store import KeyStore

        return KeyStore.load(self.vkey).pin_retries

    def click_at(self, context: str, expression: str) -> None:
        """A trusted click at the centre of the element ``expression`` names in ``context`` (once it is shown)."""
        x, y = self.wait_for(
            context,
            f"(() => {{ const e = {expression}; if (!e || e.hidden) return null; const r = e.getBoundingClientRect(); "
            "return r.width ? [r.x + r.width / 2, r.y + r.height / 2] : null; })()",
        )
        self.bidi.click(context, x, y)


@contextlib.contextmanager
def running_firefox(pages: PageServer, root: Path) -> Iterator[KeyFirefox]:
    from native_host.fido.softkey.store import KeyStore

    home = root / "home"
    home.mkdir()
    vault, vkey = root / "vault.json", root / "vkey.json"
    store = KeyStore()
    store.pin_hash = hashlib.sha256(PIN.encode()).digest()[:16]
    store.save(vkey)
    make_vault(vault, [{"secret": SECRET, "issuer": "Tracker", "account": "alice", "origins": [pages.origin()]}])
    enrol_virtual_key(vault, vkey)
    env = virtual_key_env(home, vkey, vault)
    made = functools.partial(KeyFirefox, vkey=vkey)
    with firefox_with_the_bridge(root, env, pages, [pages.origin("localhost")], make=made) as ff:
        yield ff


@pytest.fixture(scope="module")
def shared_firefox(pages: PageServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared[KeyFirefox]]:
    with Shared(lambda: running_firefox(pages, tmp_path_factory.mktemp("firefox-key"))) as shared:
        yield shared


@pytest.fixture
def firefox(shared_firefox: Shared[KeyFirefox], request: pytest.FixtureRequest) -> Iterator[KeyFirefox]:
    """A Firefox whose host has the virtual key (with a PIN set), a vault with a key slot for that key and an
    entry bound to the test pages' origin, and security keys on for the pages on localhost (the admin's list).
    Shared until a test fails (a request left holding the key, a PIN try counted): then a fresh one."""
    yield from shared_firefox.for_test(request)


def test_firefox_popup_unlocks_the_vault_with_the_security_key(firefox: KeyFirefox, pages: PageServer) -> None:
    for pid in host_pids_for_home(firefox.home):  # a fresh host: the vault is locked
        kill_pid(pid)
    tab = firefox.tab
    firefox.bidi.navigate(tab, pages.url("/pages/atlassian.html"))
    firefox.click_control(tab)
    _, message = firefox.control_state(tab, "error")
    assert "locked" in message
    firefox.click_at(tab, f"{CONTROL}.shadowRoot.querySelector('[data-action=unlock]')")
    popup = firefox.extension_tab()
    firefox.wait_for(popup, "document.body.dataset.ready === 'true' && document.body.dataset.vault === 'locked'")
    firefox.click_at(popup, "document.getElementById('unlock-key')")
    # Unlocked, the popup goes back to the page's tab and closes itself; an error would keep it open.
    deadline = time.monotonic() + 30
    while any(c["context"] == popup for c in firefox.bidi.call("browsingContext.getTree", {})["contexts"]):
        try:
            shown = firefox.bidi.evaluate(popup, "document.getElementById('unlock-error').textContent")
        except browsers.BrowserError:
            shown = None  # closed meanwhile
        assert not shown, f"the key unlock failed: {shown}"
        assert time.monotonic() < deadline, "the popup did not unlock and close"
        time.sleep(0.1)
    firefox.bidi.call("browsingContext.activate", {"context": tab})
    firefox.click_control(tab)
    assert firefox.wait_for(tab, CODE_INPUT) in valid_codes()


def test_firefox_popup_says_the_key_is_busy_and_cancel_ends_the_wait(firefox: KeyFirefox, pages: PageServer) -> None:
    busy = catalog("en")["popup_key_busy"]["message"]
    tab = firefox.tab
    for pid in host_pids_for_home(firefox.home):  # a fresh host: the vault is locked
        kill_pid(pid)
    firefox.bidi.navigate(tab, pages.url("/pages/atlassian.html"))
    firefox.click_control(tab)
    firefox.control_state(tab, "error")
    holder = firefox.bidi.new_tab()  # a page's registration holds the key, waiting for its PIN
    opened = [holder]
    try:
        firefox.bidi.navigate(holder, pages.url("/pages/fido_legacy.html", host="localhost"))
        firefox.bidi.evaluate(holder, CREATE_WITH_PIN)
        consent = confirm_the_pages_request(firefox, holder)
        opened.append(consent)
        firefox_consent_state(firefox.bidi, consent, "pin")
        firefox.bidi.call("browsingContext.activate", {"context": tab})
        firefox.click_at(tab, f"{CONTROL}.shadowRoot.querySelector('[data-action=unlock]')")
        popup = firefox.extension_tab()
        opened.append(popup)
        firefox.wait_for(popup, "document.body.dataset.ready === 'true' && document.body.dataset.vault === 'locked'")
        firefox.click_at(popup, "document.getElementById('unlock-key')")
        # Waits for the busy message (or an error, which fails with its text: the unlock should still wait).
        shown = firefox.wait_for(
            popup,
            "(() => { const s = document.getElementById('key-status'), e = document.getElementById('unlock-error');"
            " if (!e.hidden) return 'error: ' + e.textContent;"
            f" return !s.hidden && s.textContent === {json.dumps(busy)} && 'busy'; }})()",
            timeout=30,
        )
        assert shown == "busy", shown
        firefox.click_at(popup, "document.getElementById('cancel-key')")
        code = firefox.wait_for(popup, "!document.getElementById('unlock-error').hidden && "
                                       "document.getElementById('unlock-error').dataset.code", timeout=30)
        assert code == "fido_cancelled"
        assert firefox.bidi.evaluate(popup, "document.getElementById('key-status').hidden") is True
        assert firefox.bidi.evaluate(popup, "document.body.dataset.vault") == "locked"
        # The page's registration still waits for its PIN; "No PIN" ends it and frees the key.
        firefox_click(firefox.bidi, consent, "#pin-decline")
        assert firefox.wait_for(holder, "window.settled", timeout=30).startswith("NotAllowedError")
    finally:
        for context in opened:
            with contextlib.suppress(browsers.BrowserError):
                firefox.bidi.call("browsingContext.close", {"context": context})


def confirm_the_pages_request(firefox: KeyFirefox, tab: str) -> str:
    """Confirm the page's ``pending`` request in the consent window; returns the window's context. A request
    that ended without a consent window fails here with its outcome."""
    try:
        return firefox_confirm(firefox.bidi)
    except AssertionError:
        # "bridge: undefined": the extension's page scripts were not in the page (the browser's own WebAuthn
        # took the request); "bridge: object": the bridge took it but no consent window came.
        seen = firefox.bidi.evaluate(tab, "[typeof window.u2f, window.settled ?? 'pending']")
        raise AssertionError(f"no consent window; bridge: {seen[0]}, request: {seen[1]}") from None


def ask_for_the_pin(firefox: KeyFirefox, pages: PageServer) -> tuple[str, str]:
    """A page's registration that needs the key's PIN, confirmed in the consent window: (tab, window)."""
    # Under a CSP as strict as the mock tracker's (default-src 'self'): nothing of ours needs the page.
    pages.extra["/fido-csp.html"] = (PAGES / "fido_legacy.html").read_text()
    pages.headers["/fido-csp.html"] = {
        "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self'"
    }
    tab = firefox.tab
    firefox.bidi.navigate(tab, pages.url("/fido-csp.html", host="localhost"))
    firefox.bidi.evaluate(tab, CREATE_WITH_PIN)
    consent = confirm_the_pages_request(firefox, tab)
    firefox_consent_state(firefox.bidi, consent, "pin")
    return tab, consent


def type_pin(firefox: KeyFirefox, consent: str, pin: str) -> None:
    """Click into the PIN field (as a user does), type the PIN and press Enter."""
    firefox_click(firefox.bidi, consent, "#pin")
    firefox.bidi.type_text(consent, pin + "\ue007")


def test_firefox_pin_form_accepts_the_correct_pin(firefox: KeyFirefox, pages: PageServer) -> None:
    tab, consent = ask_for_the_pin(firefox, pages)
    type_pin(firefox, consent, PIN)
    created = firefox.bidi.evaluate(tab, PENDING)
    assert created != "no answer" and ":" not in created, created  # a credential id, not "Name: message"
    assert firefox.bidi.evaluate(tab, f"document.querySelectorAll('{OURS_IN_THE_PAGE}').length") == 0
    assert firefox.pin_retries() == 8  # the key took the PIN (a right PIN resets the counter to its maximum)
    # The page never saw the PIN: not in its DOM, not in any message it could observe.
    page_text = firefox.bidi.evaluate(tab, "document.documentElement.outerHTML")
    assert PIN not in page_text and PIN not in json.dumps(firefox.bidi.evaluate(tab, "window.seenMessages"))


def test_firefox_a_wrong_pin_is_asked_again_with_the_tries_left(firefox: KeyFirefox, pages: PageServer) -> None:
    retries = firefox.pin_retries()
    tab, consent = ask_for_the_pin(firefox, pages)
    type_pin(firefox, consent, "0000-not-it")
    wrong = catalog("en")["prompt_wrong_pin_tries"]["message"].replace("$P1$", str(retries - 1))
    firefox.wait_for(consent, f"document.body.dataset.state === 'pin' && "
                              f"document.getElementById('status').textContent === {json.dumps(wrong)}", timeout=30)
    assert firefox.pin_retries() == retries - 1  # the wrong PIN reached the key, which counted it
    type_pin(firefox, consent, PIN)
    created = firefox.bidi.evaluate(tab, PENDING)
    assert created != "no answer" and ":" not in created, created
    assert firefox.pin_retries() == 8


def test_firefox_pin_form_has_the_keyboard_when_it_appears(firefox: KeyFirefox, pages: PageServer) -> None:
    tab, consent = ask_for_the_pin(firefox, pages)
    firefox.bidi.type_text(consent, PIN + "\ue007")  # no click first: the keys go wherever the focus is
    created = firefox.bidi.evaluate(tab, PENDING)
    assert created != "no answer" and ":" not in created, created
    assert PIN not in firefox.bidi.evaluate(tab, "document.documentElement.outerHTML")
