"""The toolbar popup (opened as a page of the extension) in headless Chromium with the real host."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from native_host.devtools import browsers
from tests.support.shared import Shared

from .conftest import (
    PASSWORD,
    SECRET,
    Chromium,
    PageServer,
    control_message,
    control_state,
    fill_control,
    make_vault,
    screenshot,
    shared_chromium,
    valid_codes,
    wait_filled,
)

pytestmark = pytest.mark.browser
QR_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.fixture(scope="module")
def shared_browser(chromium_factory: Any, pages: PageServer, tmp_path_factory: Any) -> Iterator[Shared[Chromium]]:
    def new_browser() -> Chromium:
        vault = tmp_path_factory.mktemp("vault") / "vault.json"
        make_vault(
            vault,
            [
                {"secret": SECRET, "issuer": "Tracker", "account": "alice", "origins": [pages.origin()]},
                {"secret": QR_SECRET, "issuer": "Elsewhere", "account": "bob", "origins": ["https://wiki.example.com"]},
            ],
        )
        return chromium_factory(vault=vault)

    with shared_chromium(new_browser) as shared:
        yield shared


@pytest.fixture
def browser(shared_browser: Shared[Chromium], request: pytest.FixtureRequest) -> Iterator[Chromium]:
    yield from shared_browser.for_test(request)


@pytest.fixture
def opened(browser: Chromium) -> Iterator[list[Any]]:
    pages_opened: list[Any] = []
    yield pages_opened
    for p in pages_opened:
        if not p.is_closed():
            p.close()


def popup_for(browser: Chromium, tab_page: Any, opened: list[Any]) -> Any:
    popup = browser.popup(tab_page)
    opened.append(popup)
    return popup


def popup_in_own_window(browser: Chromium, tab_page: Any, opened: list[Any]) -> Any:
    """The popup in a window of its own, so the page's tab stays the visible one in its window."""
    tab_id = browser.tab_id(tab_page)
    url = browsers.chromium_extension_url(f"popup/popup.html?tab={tab_id}")
    with browser.context.expect_page() as info:
        browser.background(f"chrome.windows.create({{url: {json.dumps(url)}, type: 'popup'}}).then(() => true)")
    popup = info.value
    popup.wait_for_selector("body[data-ready=true]")
    opened.append(popup)
    return popup


def unlock_in_popup(popup: Any) -> None:
    popup.locator("#unlock-form input[type=password]").fill(PASSWORD)
    popup.locator("#unlock-form input[type=password]").press("Enter")
    popup.wait_for_selector("body[data-vault=unlocked]", timeout=30000)


def test_locked_vault_shows_password_form_that_unlocks_on_enter_then_fills(
    browser: Chromium, pages: PageServer, opened: list[Any]
) -> None:
    browser.lock()
    page = browser.open(pages.url("/pages/atlassian.html"))
    opened.append(page)
    control = fill_control(page)
    control.click()
    assert control_state(control, "error") == "error"
    assert "locked" in control_message(control)
    screenshot(page, "locked-message")

    popup = popup_for(browser, page, opened)
    assert popup.locator("body").get_attribute("data-vault") == "locked"
    assert popup.locator("input[type=password]").is_visible()
    assert popup.locator("#unlocked").is_hidden()
    screenshot(popup, "popup-locked")
    unlock_in_popup(popup)
    assert popup.locator("input[type=password]").is_hidden()
    assert popup.locator("#site-entries li").count() == 1
    screenshot(popup, "popup-unlocked")

    control.click()
    assert wait_filled(page.locator("#two-step-verification-otp-code-input")) in valid_codes()


def test_wrong_password_says_so_and_stays_locked(browser: Chromium, pages: PageServer, opened: list[Any]) -> None:
    browser.lock()
    popup = popup_for(browser, None, opened)
    popup.locator("#password").fill("not the password")
    popup.locator("#password").press("Enter")
    popup.wait_for_selector("#unlock-error:not([hidden])")
    assert "does not open your vault" in popup.locator("#unlock-error").text_content()
    assert popup.locator("body").get_attribute("data-vault") == "locked"


def test_popup_lists_this_sites_entries_first_with_a_current_code(
    browser: Chromium, pages: PageServer, opened: list[Any]
) -> None:
    browser.unlock()
    page = browser.open(pages.url("/pages/atlassian.html"))
    opened.append(page)
    popup = popup_for(browser, page, opened)
    site = popup.locator("#site-entries li")
    # (a locator, not wait_for_function: the popup's CSP refuses the eval behind a polled string predicate)
    site.first.locator(".code").filter(has_text=re.compile(r"\d{6}")).wait_for()
    assert site.count() == 1
    assert site.first.locator(".label").text_content() == "Tracker:alice"
    assert site.first.locator(".code").text_content() in valid_codes()
    assert popup.locator("#all-entries li .label").all_text_contents() == ["Elsewhere:bob"]
    screenshot(popup, "popup-entries")


def test_popup_search_filters_all_entries(browser: Chromium, pages: PageServer, opened: list[Any]) -> None:
    browser.unlock()
    popup = popup_for(browser, None, opened)
    popup.wait_for_selector("#all-entries li")
    popup.locator("#search").fill("elsewhere")
    assert popup.locator("#all-entries li .label").all_text_contents() == ["Elsewhere:bob"]
    popup.locator("#search").fill("nothing-matches-this")
    assert popup.locator("#all-entries li").count() == 0


def test_popup_fill_button_fills_the_page(browser: Chromium, pages: PageServer, opened: list[Any]) -> None:
    browser.unlock()
    page = browser.open(pages.url("/pages/react.html"))
    opened.append(page)
    fill_control(page)  # the content script has found the field
    popup = popup_for(browser, page, opened)
    popup.locator("#site-entries li button[data-action=fill]").click()
    code = wait_filled(page.locator("#mfa-code"))
    assert code in valid_codes()
    assert page.locator("#state").text_content() == code


def test_qr_code_shown_on_the_page_is_added_from_the_popup(
    browser: Chromium, pages: PageServer, opened: list[Any]
) -> None:
    import segno

    browser.unlock()
    uri = f"otpauth://totp/QR%20Corp:carol?secret={QR_SECRET}&issuer=QR%20Corp"
    qr = segno.make(uri, error="m").png_data_uri(scale=6, border=4)
    pages.extra["/enroll"] = f"<!doctype html><title>Enroll</title><h1>Scan this</h1><img id=qr src='{qr}' alt='QR'>"
    page = browser.open(pages.url("/enroll"))
    opened.append(page)
    popup = popup_in_own_window(browser, page, opened)
    popup.locator("#add summary").click()
    popup.locator("#scan-qr").click()
    popup.wait_for_selector("#add-result[data-state]", timeout=15000)
    result = popup.locator("#add-result")
    assert result.get_attribute("data-state") == "added", result.text_content()
    entries = browser.host_request("vault.entries", {"origin": pages.origin()})["entries"]
    assert "QR Corp:carol" in [e["label"] for e in entries]
    screenshot(popup, "popup-added-from-qr")


def test_pasted_uri_is_added_and_bound_to_the_current_site(
    browser: Chromium, pages: PageServer, opened: list[Any]
) -> None:
    browser.unlock()
    page = browser.open(pages.url("/pages/atlassian.html"))
    opened.append(page)
    popup = popup_for(browser, page, opened)
    popup.locator("#add summary").click()
    popup.locator("#add-uri").fill(f"otpauth://totp/Pasted:dave?secret={QR_SECRET}&issuer=Pasted")
    popup.locator("#add-uri").press("Enter")
    popup.wait_for_selector("#add-result[data-state=added]")
    entries = browser.host_request("vault.entries", {"origin": pages.origin()})["entries"]
    assert "Pasted:dave" in [e["label"] for e in entries]


def test_invalid_uri_is_refused_with_a_clear_message(browser: Chromium, pages: PageServer, opened: list[Any]) -> None:
    browser.unlock()
    before = len(browser.host_request("vault.entries")["entries"])
    popup = popup_for(browser, None, opened)
    popup.locator("#add summary").click()
    popup.locator("#add-uri").fill("otpauth://totp/Broken?secret=not*base32")
    popup.locator("#add-uri").press("Enter")
    popup.wait_for_selector("#add-result[data-state=error]")
    assert popup.locator("#add-result").text_content()
    assert len(browser.host_request("vault.entries")["entries"]) == before


def test_account_entered_by_hand_is_added(browser: Chromium, pages: PageServer, opened: list[Any]) -> None:
    browser.unlock()
    page = browser.open(pages.url("/pages/atlassian.html"))
    opened.append(page)
    popup = popup_for(browser, page, opened)
    popup.locator("#add summary").click()
    popup.locator("#add-issuer").fill("Handmade")
    popup.locator("#add-account").fill("erin")
    popup.locator("#add-secret").fill("JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP")
    popup.locator("#add-manual-form button[type=submit]").click()
    popup.wait_for_selector("#add-result[data-state=added]")
    entries = browser.host_request("vault.entries", {"origin": pages.origin()})["entries"]
    assert "Handmade:erin" in [e["label"] for e in entries]


def test_lock_button_locks_the_vault(browser: Chromium, opened: list[Any]) -> None:
    browser.unlock()
    popup = popup_for(browser, None, opened)
    popup.locator("#lock").click()
    popup.wait_for_selector("body[data-vault=locked]")
    assert browser.host_request("vault.status")["unlocked"] is False


def test_auto_lock_setting_is_saved_in_the_host(browser: Chromium, opened: list[Any]) -> None:
    browser.unlock()
    popup = popup_for(browser, None, opened)
    popup.locator("#auto-lock").select_option("900")
    popup.wait_for_selector("#auto-lock-note:has-text('Auto-lock saved')")
    assert browser.host_request("settings.get")["auto_lock_seconds"] == 900


def test_entry_not_bound_here_can_be_bound_from_the_popup(
    browser: Chromium, other_pages: PageServer, opened: list[Any]
) -> None:
    browser.unlock()
    page = browser.open(other_pages.url("/pages/atlassian.html"))
    opened.append(page)
    popup = popup_for(browser, page, opened)
    popup.wait_for_selector("#site-empty:not([hidden])")
    popup.locator("#all-entries li", has_text="Tracker:alice").locator("button[data-action=bind-to-this-site]").click()
    popup.wait_for_selector("#site-entries li")
    fill_control(page).click()
    assert wait_filled(page.locator("#two-step-verification-otp-code-input")) in valid_codes()


def test_popup_follows_the_dark_system_theme(browser: Chromium, opened: list[Any]) -> None:
    popup = popup_for(browser, None, opened)
    light = popup.evaluate("getComputedStyle(document.body).backgroundColor")
    popup.emulate_media(color_scheme="dark")
    dark = popup.evaluate("getComputedStyle(document.body).backgroundColor")
    assert light == "rgb(255, 255, 255)"
    assert dark == "rgb(23, 25, 29)"
    screenshot(popup, "popup-dark")


def test_popup_works_from_the_keyboard_alone(browser: Chromium, pages: PageServer, opened: list[Any]) -> None:
    browser.lock()
    page = browser.open(pages.url("/pages/atlassian.html"))
    opened.append(page)
    fill_control(page)
    popup = popup_for(browser, page, opened)
    # The password field has the focus on open: type, Enter.
    popup.keyboard.type(PASSWORD)
    popup.keyboard.press("Enter")
    popup.wait_for_selector("body[data-vault=unlocked]", timeout=30000)
    # Tab to this site's Fill button and press Enter.
    for _ in range(10):
        popup.keyboard.press("Tab")
        if popup.evaluate("document.activeElement?.dataset.action") == "fill":
            break
    assert popup.evaluate("document.activeElement?.closest('#site-entries') !== null")
    popup.keyboard.press("Enter")
    assert wait_filled(page.locator("#two-step-verification-otp-code-input")) in valid_codes()
