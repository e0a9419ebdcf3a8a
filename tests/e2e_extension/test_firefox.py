"""Firefox ESR, headless, driven over WebDriver BiDi: the basic fill flow and origin binding."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from native_host.devtools import browsers
from tests.support.shared import Shared

from . import opaque_pages
from .conftest import PASSWORD, SECRET, PageServer, host_pids_for_home, kill_pid, make_vault, valid_codes

pytestmark = pytest.mark.browser
CONTROL = "document.querySelector('[data-tracker2fa-fill]')"


class Firefox:
    def __init__(self, bidi: browsers.FirefoxBidi, home: Path) -> None:
        self.bidi = bidi
        self.home = home
        self.tab = bidi.call("browsingContext.getTree", {})["contexts"][0]["context"]

    def wait_for(self, context: str, expression: str, timeout: float = 15) -> Any:
        """Poll ``expression`` in the page until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.bidi.evaluate(context, expression)
            except browsers.BrowserError:
                value = None  # the page is between documents
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}")
            time.sleep(0.1)

    def click_control(self, context: str) -> None:
        x, y = self.wait_for(
            context,
            f"(() => {{ const e = {CONTROL}; if (!e) return null; const r = e.getBoundingClientRect(); "
            "return [r.x + r.width / 2, r.y + r.height / 2]; })()",
        )
        self.bidi.click(context, x, y)

    def control_state(self, context: str, *states: str) -> tuple[str, str]:
        wanted = repr(list(states))
        return tuple(
            self.wait_for(
                context,
                f"(() => {{ const e = {CONTROL}; return e && {wanted}.includes(e.dataset.tracker2faState) && "
                "[e.dataset.tracker2faState, e.shadowRoot.querySelector('.panel').textContent]; })()",
            )
        )

    def extension_tab(self) -> str:
        return self.extension_tab_with("popup/popup.html")

    def extension_tab_with(self, path: str) -> str:
        """The tab showing the extension page ``path`` (waits for the extension to open it)."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for ctx in self.bidi.call("browsingContext.getTree", {})["contexts"]:
                if ctx["url"].startswith(browsers.firefox_extension_url(path)):
                    return str(ctx["context"])
            time.sleep(0.1)
        raise AssertionError(f"the extension did not open {path}")


@contextlib.contextmanager
def running_firefox(pages: PageServer, root: Path) -> Iterator[Firefox]:
    home = root / "home"
    home.mkdir()
    vault = root / "vault.json"
    make_vault(vault, [{"secret": SECRET, "issuer": "Tracker", "account": "alice", "origins": [pages.origin()]}])
    env = browsers.profile_env(home, vault=vault)
    browsers.register_host("firefox", env)
    bidi = browsers.FirefoxBidi.start(root / "profile", env)
    try:
        bidi.install_extension()
        yield Firefox(bidi, home)
    finally:
        bidi.close()
        for pid in host_pids_for_home(home):
            kill_pid(pid)


@pytest.fixture(scope="module")
def shared_firefox(pages: PageServer, tmp_path_factory: Any) -> Iterator[Shared[Firefox]]:
    with Shared(lambda: running_firefox(pages, tmp_path_factory.mktemp("firefox"))) as shared:
        yield shared


@pytest.fixture
def firefox(shared_firefox: Shared[Firefox], request: pytest.FixtureRequest) -> Iterator[Firefox]:
    """Firefox with the extension and a vault bound to the test pages; shared until a test fails."""
    yield from shared_firefox.for_test(request)


def unlock_from_the_page(firefox: Firefox, tab: str) -> None:
    """On a page whose control said "locked": its Unlock button, the password, Enter; back on the page."""
    x, y = firefox.wait_for(
        tab,
        f"(() => {{ const b = {CONTROL}.shadowRoot.querySelector('[data-action=unlock]'); if (!b) return null; "
        "const r = b.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()",
    )
    firefox.bidi.click(tab, x, y)
    unlock_tab = firefox.extension_tab()
    firefox.wait_for(unlock_tab, "document.body.dataset.vault === 'locked'")
    firefox.bidi.evaluate(unlock_tab, "document.querySelector('input[type=password]').focus() || true")
    firefox.bidi.type_text(unlock_tab, PASSWORD + "\ue007")  # Enter submits
    # Unlocking returns to the page's tab and closes the unlock tab.
    deadline = time.monotonic() + 30
    while any(c["context"] == unlock_tab for c in firefox.bidi.call("browsingContext.getTree", {})["contexts"]):
        assert time.monotonic() < deadline, "the unlock tab did not close"
        time.sleep(0.1)
    firefox.bidi.call("browsingContext.activate", {"context": tab})


def ensure_unlocked(firefox: Firefox, pages: PageServer) -> None:
    # A fresh host (started again on the next request, its vault locked) has given no code yet: the host
    # gives each step's code to a site once (native_host/fill_memory.py), and the tests below fill one site.
    for pid in host_pids_for_home(firefox.home):
        kill_pid(pid)
    tab = firefox.tab
    firefox.bidi.navigate(tab, pages.url("/pages/atlassian.html", host="localhost"))  # nothing bound: no fill
    firefox.click_control(tab)
    _, message = firefox.control_state(tab, "error")
    if "locked" in message:
        unlock_from_the_page(firefox, tab)


def test_firefox_locked_vault_unlocks_from_the_page_and_fills(firefox: Firefox, pages: PageServer) -> None:
    tab = firefox.tab
    firefox.bidi.navigate(tab, pages.url("/pages/atlassian.html"))
    firefox.click_control(tab)
    _, message = firefox.control_state(tab, "error")
    assert "locked" in message
    # The control's "Unlock the vault…" button opens the popup's unlock form in a tab.
    unlock_from_the_page(firefox, tab)
    firefox.click_control(tab)
    code = firefox.wait_for(tab, "document.getElementById('two-step-verification-otp-code-input').value")
    assert code in valid_codes()


def test_firefox_entry_is_never_filled_on_another_origin(firefox: Firefox, pages: PageServer) -> None:
    ensure_unlocked(firefox, pages)
    tab = firefox.tab
    firefox.bidi.navigate(tab, pages.url("/pages/atlassian.html", host="localhost"))
    firefox.click_control(tab)
    _, message = firefox.control_state(tab, "error", "filled")
    assert "No account in your vault is bound to this site" in message
    assert firefox.bidi.evaluate(tab, "document.getElementById('two-step-verification-otp-code-input').value") == ""


def test_firefox_fills_a_react_controlled_input(firefox: Firefox, pages: PageServer) -> None:
    ensure_unlocked(firefox, pages)
    tab = firefox.tab
    firefox.bidi.navigate(tab, pages.url("/pages/react.html"))
    firefox.click_control(tab)
    state, _ = firefox.control_state(tab, "filled", "error")
    assert state == "filled"
    code = firefox.bidi.evaluate(tab, "document.getElementById('state').textContent")
    assert code in valid_codes()


@pytest.fixture
def admin_policy(firefox: Firefox, pages: PageServer) -> dict[str, Any]:
    """Admin settings through Firefox's per-user managed storage (~/.mozilla/managed-storage/<add-on id>.json,
    here in the throwaway HOME). Written once per Firefox (the tests using it come last): Firefox keeps what it
    read for the add-on's lifetime."""
    data = {
        "trackerOrigins": [pages.origin()],
        "autoFill": True,
        "autoSubmit": True,
        "autoLockSeconds": 600,
        "siteRules": [{"name": "Corp Jira", "urlPattern": "^https://jira\\.corp\\.test/", "fieldSelector": "#otp"}],
    }
    managed = firefox.home / ".mozilla" / "managed-storage"
    managed.mkdir(parents=True, exist_ok=True)
    policy = managed / "tracker2fa@tracker2fa.dev.json"
    if not policy.exists():
        policy.write_text(json.dumps(
            {"name": "tracker2fa@tracker2fa.dev", "description": "test policy", "type": "storage", "data": data}))
    return data


def test_firefox_admin_auto_fill_policy_fills_on_load(
    firefox: Firefox, pages: PageServer, admin_policy: dict[str, Any]
) -> None:
    ensure_unlocked(firefox, pages)
    tab = firefox.tab
    firefox.bidi.navigate(tab, pages.url("/pages/react.html"))  # no click: the admin listed this tracker
    code = firefox.wait_for(tab, "document.getElementById('state').textContent")
    assert code in valid_codes()


def test_firefox_options_show_admin_settings_locked(
    firefox: Firefox, pages: PageServer, admin_policy: dict[str, Any]
) -> None:
    opened: list[str] = []
    try:
        # A fresh host starts locked; the page's Unlock button opens the popup in a tab, whose footer links
        # to the options (BiDi may not navigate to moz-extension:// URLs itself).
        for pid in host_pids_for_home(firefox.home):
            kill_pid(pid)
        tab = firefox.tab
        firefox.bidi.navigate(tab, pages.url("/pages/atlassian.html"))
        firefox.click_control(tab)
        firefox.control_state(tab, "error")
        x, y = firefox.wait_for(
            tab,
            f"(() => {{ const b = {CONTROL}.shadowRoot.querySelector('[data-action=unlock]'); if (!b) return null; "
            "const r = b.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()",
        )
        firefox.bidi.click(tab, x, y)
        popup = firefox.extension_tab()
        opened.append(popup)
        firefox.wait_for(popup, "document.body.dataset.ready === 'true' && document.body.dataset.vault === 'locked'")
        x, y = firefox.wait_for(
            popup,
            "(() => { const a = document.querySelector('a[href$=\"options.html\"]'); if (!a) return null; "
            "const r = a.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()",
        )
        firefox.bidi.click(popup, x, y)
        options = firefox.extension_tab_with("options/options.html")
        opened.append(options)
        firefox.wait_for(options, "document.body.dataset.ready === 'true'")
        view = firefox.bidi.evaluate(
            options,
            "(() => { const $ = (id) => document.getElementById(id); return {"
            " autoSubmit: [$('auto-submit').checked, $('auto-submit').disabled],"
            " autoSubmitNote: !$('auto-submit-managed').hidden,"
            " autoLock: [$('auto-lock').value, $('auto-lock').disabled],"
            " lockedRules: [...document.querySelectorAll('#rules tr.locked [data-field=name]')].map((i) => i.value),"
            " note: !$('managed-note').hidden}; })()",
        )
        assert view == {
            "autoSubmit": [True, True],
            "autoSubmitNote": True,
            "autoLock": ["600", True],
            "lockedRules": ["Corp Jira"],
            "note": True,
        }
    finally:
        for context in opened:
            with contextlib.suppress(browsers.BrowserError):
                firefox.bidi.call("browsingContext.close", {"context": context})


def test_firefox_without_the_host_says_it_is_not_installed(pages: PageServer, tmp_path_factory: Any) -> None:
    root = tmp_path_factory.mktemp("firefox-no-host")
    home = root / "home"
    home.mkdir()
    bidi = browsers.FirefoxBidi.start(root / "profile", browsers.profile_env(home, vault=root / "vault.json"))
    try:
        bidi.install_extension()
        firefox = Firefox(bidi, home)
        firefox.bidi.navigate(firefox.tab, pages.url("/pages/atlassian.html"))
        firefox.click_control(firefox.tab)
        _, message = firefox.control_state(firefox.tab, "error")
        assert "not installed" in message
        assert "tracker2fa install" in message
    finally:
        bidi.close()


# ---- opaque origins (issue 7.1): a sandboxed document on, or framed by, a bound origin gets no code ----

SEEN = "document.documentElement.dataset.seen ?? ''"


def child_context(firefox: Firefox, parent: str, frame_id: str) -> tuple[str, list[float]]:
    """The browsing context of ``<iframe id=frame_id>`` in ``parent`` and the viewport offset of its content."""
    offset = firefox.wait_for(
        parent,
        f"(() => {{ const f = document.getElementById({frame_id!r}); const r = f.getBoundingClientRect(); "
        "return [r.x + f.clientLeft, r.y + f.clientTop]; })()",
    )
    index = firefox.bidi.evaluate(
        parent, f"[...document.querySelectorAll('iframe')].indexOf(document.getElementById({frame_id!r}))"
    )
    tree = firefox.bidi.call("browsingContext.getTree", {"root": parent})["contexts"][0]
    return str(tree["children"][index]["context"]), offset


def assert_opaque_document_refused(firefox: Firefox, context: str, offset: list[float]) -> None:
    """The content script scanned the document (its control is there: auto-fill had its chance), its own
    script saw no code, and a trusted click on the control is refused with the reason."""
    firefox.wait_for(context, f"!!{CONTROL}")
    assert firefox.bidi.evaluate(context, "self.origin") == "null"
    assert firefox.bidi.evaluate(context, SEEN) == ""
    x, y = firefox.wait_for(
        context,
        f"(() => {{ const e = {CONTROL}; if (!e) return null; const r = e.getBoundingClientRect(); "
        "return [r.x + r.width / 2, r.y + r.height / 2]; })()",
    )
    firefox.bidi.click(firefox.tab, x + offset[0], y + offset[1])
    state, message = firefox.control_state(context, "refused", "filled", "error")
    assert state == "refused"
    assert "no origin of its own (sandboxed)" in message
    assert firefox.bidi.evaluate(context, "document.getElementById('c').value") == ""
    assert firefox.bidi.evaluate(context, SEEN) == ""


def test_firefox_csp_sandboxed_top_document_on_a_bound_origin_gets_no_code(
    firefox: Firefox, pages: PageServer, admin_policy: dict[str, Any]
) -> None:
    urls = opaque_pages.install(pages)
    ensure_unlocked(firefox, pages)
    tab = firefox.tab
    # Positive control: the same document without the sandbox, on the same origin, is auto-filled.
    firefox.bidi.navigate(tab, pages.url("/opaque/field"))
    assert firefox.wait_for(tab, "document.getElementById('c').value") in valid_codes()
    firefox.bidi.navigate(tab, urls["csp_top"])
    assert_opaque_document_refused(firefox, tab, [0, 0])


@pytest.mark.parametrize("frame_id", opaque_pages.OPAQUE_FRAMES)
def test_firefox_opaque_frame_in_a_bound_page_gets_no_code(
    firefox: Firefox, pages: PageServer, admin_policy: dict[str, Any], frame_id: str
) -> None:
    urls = opaque_pages.install(pages)
    ensure_unlocked(firefox, pages)
    tab = firefox.tab
    firefox.bidi.navigate(tab, urls[frame_id])
    normal, _ = child_context(firefox, tab, opaque_pages.NORMAL_FRAME)
    # Positive control: the normal same-origin frame on the same page is auto-filled.
    assert firefox.wait_for(normal, "document.getElementById('c').value") in valid_codes()
    frame, offset = child_context(firefox, tab, frame_id)
    assert_opaque_document_refused(firefox, frame, offset)
