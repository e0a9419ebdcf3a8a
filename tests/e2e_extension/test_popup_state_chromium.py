"""Issue 12 item 3: the popup renders from one state. Counts follow what was just done, each message sits
beside the control that caused it, an empty vault gets a real empty state, and every entry of a vault larger
than one reply (vault.entries in pages) is listed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.shared import Shared

from .conftest import SECRET, Chromium, PageServer, add_entry, screenshot, shared_chromium, unlocked_chromium

pytestmark = pytest.mark.browser
POPUP_SIZE = {"width": 360, "height": 600}


@pytest.fixture(scope="module")
def shared_browser(chromium_factory: Any, tmp_path_factory: Any) -> Iterator[Shared[Chromium]]:
    def new_browser() -> Chromium:
        return unlocked_chromium(chromium_factory, tmp_path_factory, [])

    with shared_chromium(new_browser) as shared:
        yield shared


@pytest.fixture
def browser(shared_browser: Shared[Chromium], request: pytest.FixtureRequest) -> Iterator[Chromium]:
    yield from shared_browser.for_test(request)


def open_popup(browser: Chromium, tab_page: Any = None) -> Any:
    popup = browser.popup(tab_page)
    popup.set_viewport_size(POPUP_SIZE)
    return popup


def test_an_empty_vault_says_how_to_add_the_first_account_and_shows_no_empty_lists(browser: Chromium) -> None:
    popup = open_popup(browser)
    popup.wait_for_selector("body[data-vault=unlocked]")
    assert popup.locator("#empty").is_visible()
    assert "add your first account" in popup.locator("#empty").text_content()
    assert popup.locator("#add").get_attribute("open") is not None  # the way to add one is open
    assert not popup.locator("#all-heading").is_visible()  # no "Other accounts" over nothing
    assert not popup.locator("#site").is_visible()
    assert not popup.locator("#search").is_visible()
    screenshot(popup, "popup-empty")
    popup.close()


def test_adding_the_first_account_updates_the_count_and_confirms_beside_the_form(
    browser: Chromium, pages: PageServer
) -> None:
    page = browser.open(pages.url("/pages/atlassian.html"))
    popup = open_popup(browser, page)
    popup.wait_for_selector("#empty:not([hidden])")
    assert popup.locator("#vault-status").text_content() == "Vault unlocked, 0 accounts"
    popup.locator("#add-uri").fill(f"otpauth://totp/First:ann?secret={SECRET}&issuer=First")
    popup.locator("#add-uri").press("Enter")
    popup.wait_for_selector("#add-result[data-state=added]")
    # Without reopening: the footer counts the new account, the empty state is gone, the account is listed.
    assert popup.locator("#vault-status").text_content() == "Vault unlocked, 1 account"
    assert not popup.locator("#empty").is_visible()
    assert popup.locator("#site-entries li").count() == 1
    # The confirmation is in view, right under the section's heading (above the forms), not below the fold.
    result = popup.locator("#add-result").bounding_box()
    uri_form = popup.locator("#add-uri-form").bounding_box()
    assert result is not None and uri_form is not None
    assert result["y"] < uri_form["y"]
    assert result["y"] >= 0 and result["y"] + result["height"] <= POPUP_SIZE["height"]
    screenshot(popup, "popup-first-account-added")
    popup.close()
    page.close()


def test_a_copy_confirmation_appears_on_the_entry_copied(browser: Chromium, pages: PageServer) -> None:
    if not browser.host_request("vault.entries", {"origin": pages.origin()})["entries"]:  # the vault starts empty
        uri = f"otpauth://totp/Copy:ann?secret={SECRET}"
        browser.host_request("vault.add", {"uri": uri, "origins": [pages.origin()]})
    page = browser.open(pages.url("/pages/atlassian.html"))
    popup = open_popup(browser, page)
    browser.context.grant_permissions(["clipboard-read", "clipboard-write"])
    item = popup.locator("#site-entries li").first
    item.locator("button[data-action=copy]").click()
    item.locator(".note[data-state=ok]").wait_for()
    assert item.locator(".note").text_content() == "Code copied."
    popup.close()
    page.close()


def test_every_entry_of_a_vault_larger_than_one_reply_is_listed(browser: Chromium) -> None:
    # Entries near the size caps (100 origins of ~1,900 characters): about 200 kB each, so 7 of them need
    # two pages of vault.entries (a reply holds at most 1 MiB).
    vault = Path(browser.vault)
    for n in range(7):
        origins = [f"https://{'a' * 60}{i}.{'b' * 1800}{n}.example" for i in range(100)]
        add_entry(vault, secret=SECRET, issuer=f"Big{n}", account="x", origins=origins)
    first = browser.host_request("vault.entries", {"offset": 0})
    assert first["next_offset"] is not None  # the vault really is paged
    total = browser.host_request("vault.status")["entries"]
    popup = open_popup(browser)
    popup.wait_for_selector("body[data-vault=unlocked]")
    assert popup.locator("body").get_attribute("data-entries") == str(total)
    assert popup.locator("#vault-status").text_content() == f"Vault unlocked, {total} accounts"
    assert popup.locator("#all-entries li").count() == total
    popup.close()
