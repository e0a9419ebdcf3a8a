"""Accessibility: axe-core (npm, installed into .tools by scripts/test.sh) run inside headless Chromium on the
inline control, the popup (empty, locked, with accounts), the options page and the mock tracker's pages: no
serious or critical violation. Plus keyboard-only use of the inline control and the keyboard command."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from native_host.devtools import browsers
from tests.support.shared import Shared

from .conftest import (
    SECRET,
    Chromium,
    MockTracker,
    PageServer,
    fill_control,
    shared_chromium,
    unlocked_chromium,
    valid_codes,
    wait_filled,
)

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / ".tools" / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page (its shadow roots included)."""
    assert AXE.is_file(), "axe-core is missing: run scripts/test.sh (it installs it into .tools)"
    # Evaluated over the DevTools protocol, so an extension page's CSP does not stop it.
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    result = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then((r) => r.violations.map((v) => "
        "({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' '))})))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def assert_accessible(page: Any) -> None:
    found = axe_violations(page)
    assert found == [], json.dumps(found, indent=1)


@pytest.fixture(scope="module")
def shared_browser(chromium_factory: Any, tmp_path_factory: Any) -> Iterator[Shared[Chromium]]:
    def new_browser() -> Chromium:
        # The vault starts empty: the popup's empty state is checked first.
        return unlocked_chromium(chromium_factory, tmp_path_factory, [])

    with shared_chromium(new_browser) as shared:
        yield shared


@pytest.fixture
def browser(shared_browser: Shared[Chromium], request: pytest.FixtureRequest) -> Iterator[Chromium]:
    yield from shared_browser.for_test(request)


def test_popup_empty_state_has_no_serious_violation(browser: Chromium) -> None:
    popup = browser.popup()
    popup.wait_for_selector("#empty:not([hidden])")
    assert_accessible(popup)
    popup.close()


def bind_an_account(browser: Chromium, pages: PageServer) -> None:
    """An account bound to the test pages (the vault starts empty, for the empty state's test)."""
    if not browser.host_request("vault.entries", {"origin": pages.origin()})["entries"]:
        browser.host_request("vault.add", {"uri": f"otpauth://totp/A11y:ann?secret={SECRET}",
                                           "origins": [pages.origin()]})


def test_popup_with_accounts_has_no_serious_violation(browser: Chromium, pages: PageServer) -> None:
    bind_an_account(browser, pages)
    page = browser.open(pages.url("/pages/atlassian.html"))
    popup = browser.popup(page)
    popup.wait_for_selector("#site-entries li")
    popup.locator("#add summary").click()
    assert_accessible(popup)
    popup.close()
    page.close()


def test_popup_unlock_form_has_no_serious_violation(browser: Chromium) -> None:
    browser.lock()
    popup = browser.popup()
    popup.wait_for_selector("body[data-vault=locked]")
    assert_accessible(popup)
    popup.close()
    browser.unlock()


def test_options_page_has_no_serious_violation(browser: Chromium) -> None:
    options = browser.context.new_page()
    options.goto(browsers.chromium_extension_url("options/options.html"))
    options.wait_for_selector("body[data-ready=true]")
    options.locator("#add-rule").click()
    assert_accessible(options)
    options.close()


def test_inline_control_and_its_messages_have_no_serious_violation(browser: Chromium, pages: PageServer) -> None:
    page = browser.open(pages.url("/pages/atlassian.html", host="localhost"))  # nothing bound here
    control = fill_control(page)
    assert_accessible(page)
    control.click()  # opens the panel with the reason
    page.wait_for_function("document.querySelector('[data-tracker2fa-fill]').dataset.tracker2faState === 'error'")
    assert_accessible(page)
    page.close()


def test_inline_control_is_reached_with_tab_and_fills_on_enter(browser: Chromium, pages: PageServer) -> None:
    bind_an_account(browser, pages)
    page = browser.open(pages.url("/pages/atlassian.html"))
    fill_control(page)
    page.locator("#two-step-verification-otp-code-input").focus()
    on_control = "document.activeElement?.hasAttribute('data-tracker2fa-fill')"
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate(on_control):
            break
    assert page.evaluate(on_control), "Tab never reached the control"
    label = page.evaluate("document.activeElement.shadowRoot.activeElement.getAttribute('aria-label')")
    assert label == "Fill the one-time code from tracker2fa"
    page.keyboard.press("Enter")
    assert wait_filled(page.locator("#two-step-verification-otp-code-input")) in valid_codes()
    page.close()


def test_the_fill_command_is_registered_with_its_documented_shortcut(browser: Chromium) -> None:
    commands = browser.background("chrome.commands.getAll()")
    fill = next(c for c in commands if c["name"] == "fill-code")
    assert fill["shortcut"] == "Alt+Shift+F"
    assert fill["description"] == "Fill the one-time code for this site"


@pytest.mark.parametrize("path", ["/login", "/2fa", "/enrol"])
def test_mock_tracker_pages_have_no_serious_violation(
    browser: Chromium, mock: MockTracker, path: str
) -> None:
    browser.context.clear_cookies()
    page = browser.open(f"{mock.url}/login")
    if path != "/login":
        page.locator("#login-username").fill("alice" if path == "/2fa" else "admin")
        page.locator("#login-password").fill("alice-demo-pass" if path == "/2fa" else "admin-demo-pass")
        page.locator("#login-submit").click()
        page.wait_for_selector("body[data-page=second-factor], body[data-page=enrol]")
    assert_accessible(page)
    page.close()

