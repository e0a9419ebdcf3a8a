"""The options page in headless Chromium: user site rules reach the content script; bad input is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from native_host.devtools import browsers
from tests.support.shared import Shared

from .conftest import (
    SECRET,
    Chromium,
    PageServer,
    fill_control,
    screenshot,
    shared_chromium,
    unlocked_chromium,
    valid_codes,
    wait_filled,
)

pytestmark = pytest.mark.browser
CUSTOM_PAGE = """<!doctype html><title>Custom tracker</title>
<form><label for=pin>Enter the number from your app</label> <input id=pin name=xq1 type=text></form>"""


@pytest.fixture(scope="module")
def shared_browser(chromium_factory: Any, pages: PageServer, tmp_path_factory: Any) -> Iterator[Shared[Chromium]]:
    def new_browser() -> Chromium:
        account = {"secret": SECRET, "issuer": "Custom", "account": "c", "origins": [pages.origin()]}
        return unlocked_chromium(chromium_factory, tmp_path_factory, [account])

    with shared_chromium(new_browser) as shared:
        yield shared


@pytest.fixture
def browser(shared_browser: Shared[Chromium], request: pytest.FixtureRequest) -> Iterator[Chromium]:
    yield from shared_browser.for_test(request)


def open_options(browser: Chromium) -> Any:
    page = browser.context.new_page()
    page.goto(browsers.chromium_extension_url("options/options.html"))
    page.wait_for_selector("body[data-ready=true]")
    return page


def test_unrecognised_field_is_not_detected_without_a_rule(browser: Chromium, pages: PageServer) -> None:
    pages.extra["/custom/verify"] = CUSTOM_PAGE
    page = browser.open(pages.url("/custom/verify"))
    page.wait_for_function("document.documentElement.dataset.tracker2faScanned !== undefined", timeout=10000)
    assert page.locator("[data-tracker2fa-fill]").count() == 0
    page.close()


def test_site_rule_added_in_options_makes_the_field_fillable(browser: Chromium, pages: PageServer) -> None:
    pages.extra["/custom/verify"] = CUSTOM_PAGE
    options = open_options(browser)
    options.locator("#add-rule").click()
    row = options.locator("#rules tbody tr").last
    row.locator("[data-field=name]").fill("Custom tracker")
    row.locator("[data-field=urlPattern]").fill("/custom/verify$")
    row.locator("[data-field=fieldSelector]").fill("#pin")
    options.locator("#save").click()
    options.wait_for_selector("#saved[data-state=saved]")
    screenshot(options, "options")
    options.close()

    page = browser.open(pages.url("/custom/verify"))
    fill_control(page).click()
    assert wait_filled(page.locator("#pin")) in valid_codes()
    page.close()


def test_invalid_rule_pattern_is_refused_and_nothing_is_saved(browser: Chromium) -> None:
    options = open_options(browser)
    before = browser.background("chrome.storage.local.get('settings').then((s) => s.settings ?? null)")
    options.locator("#add-rule").click()
    row = options.locator("#rules tbody tr").last
    row.locator("[data-field=name]").fill("Broken")
    row.locator("[data-field=urlPattern]").fill("([unclosed")
    row.locator("[data-field=fieldSelector]").fill("#x")
    options.locator("#save").click()
    options.wait_for_selector("#saved[data-state=error]")
    assert "not a valid regular expression" in options.locator("#saved").text_content()
    after = browser.background("chrome.storage.local.get('settings').then((s) => s.settings ?? null)")
    assert after == before
    options.close()


def test_invalid_auto_fill_origin_is_refused(browser: Chromium) -> None:
    options = open_options(browser)
    options.locator("#auto-fill-origins").fill("not a url")
    options.locator("#save").click()
    options.wait_for_selector("#saved[data-state=error]")
    assert "is not an origin" in options.locator("#saved").text_content()
    options.close()


def test_a_tracker_origin_with_a_typo_is_refused_with_the_origin_meant_and_nothing_is_saved(browser: Chromium) -> None:
    options = open_options(browser)
    before = browser.background("chrome.storage.local.get('settings').then((s) => s.settings ?? null)")
    options.locator("#security-key-origins").fill("https://jira.example,com")
    options.locator("#save").click()
    options.wait_for_selector("#saved[data-state=error]")
    shown = options.locator("#saved").text_content()
    assert "not \",\"" in shown and "Did you mean https://jira.example.com?" in shown, shown
    assert browser.background("chrome.storage.local.get('settings').then((s) => s.settings ?? null)") == before
    options.close()
