"""Documents with an opaque origin ("null") on, or inside, a bound origin get no code in headless Chromium:
a CSP-sandboxed top document, a sandboxed same-origin iframe, sandboxed srcdoc and data: frames. Auto-fill
is on for the bound origin (the worst case: no click needed), and each test first shows that a normal
document on the same origin in the same run does get the code, so it can fail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.shared import Shared

from . import opaque_pages
from .conftest import (
    SECRET,
    Chromium,
    PageServer,
    control_message,
    control_state,
    fill_control,
    shared_chromium,
    unlocked_chromium,
    valid_codes,
    wait_filled,
)

pytestmark = pytest.mark.browser
SCANNED = "document.documentElement.dataset.tracker2faScanned !== undefined"
# Counts the codes the service worker asks the real host for (the request itself goes through unchanged).
COUNT_CODE_REQUESTS = """(() => {
  const host = globalThis.tracker2fa.host;
  if (!host.countingCodes) {
    const request = host.request.bind(host);
    globalThis.codeRequests = 0;
    host.request = (method, ...rest) => {
      if (method === "vault.code" || method === "vault.backup_code") globalThis.codeRequests += 1;
      return request(method, ...rest);
    };
    host.countingCodes = true;
  }
  return true;
})()"""


@pytest.fixture(scope="module")
def shared_browser(chromium_factory: Any, pages: PageServer, tmp_path_factory: Any) -> Iterator[Shared[Chromium]]:
    def new_browser() -> Chromium:
        account = {"secret": SECRET, "issuer": "Tracker", "account": "alice", "origins": [pages.origin()]}
        b = unlocked_chromium(chromium_factory, tmp_path_factory, [account])
        b.background(f"chrome.storage.local.set({{settings: {{autoFillOrigins: ['{pages.origin()}']}}}})")
        return b

    with shared_chromium(new_browser) as shared:
        yield shared


@pytest.fixture
def browser(shared_browser: Shared[Chromium], request: pytest.FixtureRequest) -> Iterator[Chromium]:
    yield from shared_browser.for_test(request)


@pytest.fixture(scope="module")
def urls(pages: PageServer) -> dict[str, str]:
    return opaque_pages.install(pages)


def code_requests(browser: Chromium) -> int:
    browser.worker.evaluate(COUNT_CODE_REQUESTS)
    return int(browser.worker.evaluate("globalThis.codeRequests"))


def assert_refused_without_a_code(scope: Any, frame: Any, browser: Chromium, requests_allowed: int) -> None:
    """The content script scanned ``frame`` (auto-fill had its chance), the frame's own script saw no code,
    a click is refused with the reason, and the host was asked for no code beyond ``requests_allowed``."""
    frame.wait_for_function(SCANNED, timeout=10000)
    control = fill_control(scope)
    assert frame.evaluate("document.documentElement.dataset.seen ?? ''") == ""
    control.click()
    assert control_state(control, "refused", "filled", "error") == "refused"
    assert "no origin of its own (sandboxed)" in control_message(control)
    assert frame.evaluate("document.getElementById('c').value") == ""
    assert frame.evaluate("document.documentElement.dataset.seen ?? ''") == ""
    assert code_requests(browser) == requests_allowed


def test_csp_sandboxed_top_document_on_a_bound_origin_gets_no_code(
    browser: Chromium, pages: PageServer, urls: dict[str, str]
) -> None:
    before = code_requests(browser)
    normal = browser.open(pages.url("/opaque/field"))  # positive control: same origin, same document
    assert wait_filled(normal.locator("#c")) in valid_codes()
    assert code_requests(browser) == before + 1
    normal.close()

    page = browser.open(urls["csp_top"])
    assert page.evaluate("self.origin") == "null"
    assert_refused_without_a_code(page, page.main_frame, browser, before + 1)
    page.close()


@pytest.mark.parametrize("frame_id", opaque_pages.OPAQUE_FRAMES)
def test_opaque_frame_in_a_bound_page_gets_no_code(browser: Chromium, urls: dict[str, str], frame_id: str) -> None:
    before = code_requests(browser)
    page = browser.open(urls[frame_id])
    # Positive control: the normal same-origin frame on the same page is auto-filled.
    assert wait_filled(page.frame_locator(f"#{opaque_pages.NORMAL_FRAME}").locator("#c")) in valid_codes()
    frame = page.locator(f"#{frame_id}").element_handle().content_frame()
    assert frame.evaluate("self.origin") == "null"
    assert_refused_without_a_code(page.frame_locator(f"#{frame_id}"), frame, browser, before + 1)
    page.close()


def test_popup_fill_on_a_csp_sandboxed_page_is_refused_with_the_reason(
    browser: Chromium, pages: PageServer, urls: dict[str, str]
) -> None:
    # The tab's URL is on the bound origin, so the popup lists the account as this site's; its Fill button
    # (like the keyboard command) reaches the sandboxed document, which must not get the code.
    before = code_requests(browser)
    page = browser.open(urls["csp_top"])
    page.wait_for_function(SCANNED, timeout=10000)
    popup = browser.popup(page)
    try:
        popup.locator("#site-entries li button[data-action=fill]").click()
        note = popup.locator("#site-entries li .note")  # the popup says it next to the button that was pressed
        note.wait_for(state="visible", timeout=10000)
        assert "no origin of its own (sandboxed)" in note.text_content()
        assert page.evaluate("document.getElementById('c').value") == ""
        assert page.evaluate("document.documentElement.dataset.seen ?? ''") == ""
        assert code_requests(browser) == before
        # Positive control: the same Fill button on the same document without the sandbox fills it.
        normal = browser.open(pages.url("/opaque/field"))
        popup.close()
        popup = browser.popup(normal)
        normal.wait_for_function(SCANNED, timeout=10000)
        normal.locator("#c").fill("")  # auto-fill is on here; empty the field the popup must now fill
        # The auto-fill took this step's code; a lock forgets that, so the popup's Fill need not wait 30 s.
        browser.lock()
        browser.unlock()
        popup.wait_for_selector("body[data-vault=unlocked] #site-entries li button[data-action=fill]")
        popup.locator("#site-entries li button[data-action=fill]").click()
        assert wait_filled(normal.locator("#c")) in valid_codes()
        normal.close()
    finally:
        popup.close()
        page.close()
