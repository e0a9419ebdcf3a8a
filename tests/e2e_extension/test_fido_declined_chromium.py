"""A security-key request the extension declines because security keys are off for that site (its host is a
chosen tracker, its port is not) is said where the user looks: the toolbar button's badge and tooltip for that
tab, and a line in the popup with a button that turns them on. Nothing of it is in the page."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from native_host.devtools.browsers import chromium_extension_url, kill_hosts

from .conftest import Chromium, PageServer
from .fido_support import enable_security_keys, start_chromium_with_virtual_key, verify_u2f_registration

pytestmark = pytest.mark.browser
DECLINED_BADGE = "🔑"  # extension/background/declined.js
CHALLENGE = base64.urlsafe_b64encode(b"declined then enabled challenge").rstrip(b"=").decode()


@pytest.fixture
def browser(playwright_instance: Any, tmp_path_factory: Any, pages: PageServer) -> Iterator[Chromium]:
    """The virtual key confirming by itself; security keys on for the pages' first port only. One per test:
    the first test turns keys on for another origin, so a rerun must start from a fresh profile."""
    b = start_chromium_with_virtual_key(playwright_instance, tmp_path_factory.mktemp("declined"), auto_confirm=True)
    enable_security_keys(b, pages.origin("localhost"))
    yield b
    b.context.close()
    kill_hosts(b.home)


def badge_and_title(browser: Chromium, tab_id: int) -> tuple[str, str]:
    return tuple(browser.background(
        f"Promise.all([chrome.action.getBadgeText({{tabId: {tab_id}}}), chrome.action.getTitle({{tabId: {tab_id}}})])"))


def test_a_request_declined_for_a_site_without_security_keys_is_said_on_the_button_and_in_the_popup(
    browser: Chromium, other_pages: PageServer
) -> None:
    origin = other_pages.origin("localhost")  # same host, another port: the bridge is in the page, keys are off
    page = browser.open(other_pages.url("/pages/fido_legacy.html", host="localhost"))
    before = page.evaluate("document.documentElement.outerHTML")
    app_id = origin
    refused = page.evaluate("([a, c]) => u2fRegister(a, c)", [app_id, CHALLENGE])
    assert refused.get("errorCode") == 3, refused  # U2F's "configuration unsupported"
    # Nothing in the page: it must not learn that the extension is there.
    assert page.evaluate("document.documentElement.outerHTML") == before
    tab_id = browser.tab_id(page)
    badge, title = badge_and_title(browser, tab_id)
    assert badge == DECLINED_BADGE
    assert origin in title and "security keys are off for this site" in title

    popup = browser.context.new_page()
    popup.goto(chromium_extension_url(f"popup/popup.html?tab={tab_id}"))
    popup.wait_for_selector("body[data-ready=true]")
    notice = popup.locator("#fido-declined")
    notice.wait_for(state="visible")
    assert origin in notice.text_content() and "security keys are off for this site" in notice.text_content()
    popup.locator("#fido-enable").click()
    # (a locator: the popup's CSP refuses the eval behind a string given to wait_for_function)
    popup.locator("#fido-declined-text", has_text="are on for").wait_for()
    assert not popup.locator("#fido-enable").is_visible()
    settings = browser.background("chrome.storage.local.get('settings').then((s) => s.settings.securityKeyOrigins)")
    assert origin in settings
    assert badge_and_title(browser, tab_id)[0] != DECLINED_BADGE
    popup.close()

    # The page's next request goes to the host now (its virtual key confirms by itself).
    registered = page.evaluate("([a, c]) => u2fRegister(a, c)", [app_id, CHALLENGE])
    assert "errorCode" not in registered, registered
    verify_u2f_registration(app_id, registered)
    page.close()


def test_the_popup_says_nothing_about_security_keys_on_a_tab_that_asked_for_none(browser: Chromium,
                                                                               pages: PageServer) -> None:
    page = browser.open(pages.url("/pages/plain.html", host="localhost"))
    popup = browser.popup(page)
    assert popup.locator("#fido-declined").is_hidden()
    assert badge_and_title(browser, browser.tab_id(page))[0] != DECLINED_BADGE
    popup.close()
    page.close()
