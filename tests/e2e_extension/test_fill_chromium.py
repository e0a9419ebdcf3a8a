"""Second-factor pages in headless Chromium with the extension and the real host: detection and filling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.shared import Shared

from .conftest import (
    SECRET,
    Chromium,
    PageServer,
    control_message,
    control_state,
    fill_control,
    screenshot,
    serve_pages,
    shared_chromium,
    unlocked_chromium,
    valid_codes,
    wait_filled,
)

pytestmark = pytest.mark.browser
OTHER_SECRET = "KRUGKIDROVUWG2ZAMJZG653OEBTG66BANJ2W24DT"
# The content script counts each finished scan (detection, then any auto-fill) on the root element.
SCANNED = "document.documentElement.dataset.tracker2faScanned !== undefined"


@pytest.fixture(scope="module")
def unlisted_pages() -> Iterator[PageServer]:
    """A third origin with exactly one account (so auto-fill would fill it) that is never in the auto-fill list."""
    with serve_pages() as server:
        yield server


@pytest.fixture(scope="module")
def shared_browser(
    chromium_factory: Any, pages: PageServer, other_pages: PageServer, unlisted_pages: PageServer,
    tmp_path_factory: Any,
) -> Iterator[Shared[Chromium]]:
    def new_browser() -> Chromium:
        return unlocked_chromium(
            chromium_factory,
            tmp_path_factory,
            [
                {
                    "secret": SECRET,
                    "issuer": "Tracker",
                    "account": "alice",
                    "origins": [pages.origin()],
                    "backup_codes": [{"code": "11111111", "used": False}, {"code": "22222222", "used": False}],
                },
                # Two accounts on the other origin: the user picks one.
                {"secret": SECRET, "issuer": "Jira", "account": "alice", "origins": [other_pages.origin()]},
                {"secret": OTHER_SECRET, "issuer": "Jira", "account": "admin", "origins": [other_pages.origin()]},
                {"secret": SECRET, "issuer": "Unlisted", "account": "alice", "origins": [unlisted_pages.origin()]},
            ],
        )

    with shared_chromium(new_browser) as shared:
        yield shared


@pytest.fixture
def browser(shared_browser: Shared[Chromium], request: pytest.FixtureRequest) -> Iterator[Chromium]:
    yield from shared_browser.for_test(request)


@pytest.fixture
def page(browser: Chromium) -> Iterator[Any]:
    opened: list[Any] = []

    def open_page(url: str) -> Any:
        p = browser.open(url)
        opened.append(p)
        return p

    yield open_page
    for p in opened:
        p.close()


def set_user_settings(browser: Chromium, settings: dict[str, Any]) -> None:
    browser.background(f"chrome.storage.local.set({{settings: {json.dumps(settings)}}})")


def test_atlassian_two_step_page_fills_code_on_inline_click(page: Any, pages: PageServer) -> None:
    p = page(pages.url("/pages/atlassian.html"))
    control = fill_control(p)
    screenshot(p, "inline-control")
    control.click()
    assert wait_filled(p.locator("#two-step-verification-otp-code-input")) in valid_codes()
    screenshot(p, "filled")


def test_jira_2fa_app_page_fills_passcode(page: Any, pages: PageServer) -> None:
    p = page(pages.url("/plugins/servlet/twofactor/verify"))
    fill_control(p).click()
    assert wait_filled(p.locator("#passcode")) in valid_codes()


def test_react_controlled_input_keeps_the_filled_code_in_its_state(page: Any, pages: PageServer) -> None:
    p = page(pages.url("/pages/react.html"))
    fill_control(p).click()
    code = wait_filled(p.locator("#mfa-code"))
    assert code in valid_codes()
    assert p.locator("#state").text_content() == code


def test_six_one_digit_boxes_each_receive_one_digit(page: Any, pages: PageServer) -> None:
    p = page(pages.url("/pages/boxes.html"))
    fill_control(p).click()
    p.wait_for_function("document.getElementById('joined').textContent.length === 6", timeout=10000)
    assert p.locator("#joined").text_content() in valid_codes()
    assert [p.locator(".otp input").nth(i).input_value() for i in range(6)] == list(p.locator("#joined").text_content())


def test_field_in_same_origin_iframe_is_detected_and_filled(page: Any, pages: PageServer) -> None:
    p = page(pages.url("/pages/iframe.html"))
    frame = p.frame_locator("#mfa-frame")
    fill_control(frame).click()
    assert wait_filled(frame.locator("#c")) in valid_codes()


def test_field_added_after_load_gets_the_control_and_fills(page: Any, pages: PageServer) -> None:
    p = page(pages.url("/pages/late.html"))
    fill_control(p).click()
    assert wait_filled(p.locator("#totp")) in valid_codes()


def test_page_without_second_factor_field_shows_no_control(page: Any, pages: PageServer) -> None:
    p = page(pages.url("/pages/plain.html"))
    p.wait_for_function(SCANNED, timeout=10000)  # the content script has scanned this page
    assert p.locator("[data-tracker2fa-fill]").count() == 0


def test_entry_bound_to_127_0_0_1_is_never_filled_on_localhost(page: Any, pages: PageServer) -> None:
    p = page(pages.url("/pages/atlassian.html", host="localhost"))
    control = fill_control(p)
    control.click()
    assert control_state(control, "error", "filled") == "error"
    assert "No account in your vault is bound to this site" in control_message(control)
    assert p.locator("#two-step-verification-otp-code-input").input_value() == ""


def test_value_typed_by_the_user_is_never_overwritten(page: Any, pages: PageServer) -> None:
    p = page(pages.url("/pages/atlassian.html"))
    field = p.locator("#two-step-verification-otp-code-input")
    field.fill("12")
    control = fill_control(p)
    control.click()
    assert control_state(control, "refused", "filled", "error") == "refused"
    assert field.input_value() == "12"


def test_click_synthesized_by_the_page_does_not_fill(page: Any, pages: PageServer) -> None:
    p = page(pages.url("/pages/atlassian.html"))
    control = fill_control(p)
    # A fill starts synchronously inside the click handler (the control turns "busy" before any await), so
    # the state read right after the page's own clicks shows whether they started one.
    states = p.evaluate(
        "(() => { const host = document.querySelector('[data-tracker2fa-fill]'); host.click();"
        " const after = [host.dataset.tracker2faState];"
        " host.shadowRoot.querySelector('button')"
        ".dispatchEvent(new MouseEvent('click', {bubbles: true, composed: true}));"
        " after.push(host.dataset.tracker2faState); return after; })()"
    )
    assert states == ["idle", "idle"]
    assert p.locator("#two-step-verification-otp-code-input").input_value() == ""
    # Positive control: a trusted click on the same control does fill.
    control.click()
    assert wait_filled(p.locator("#two-step-verification-otp-code-input")) in valid_codes()


def test_several_matching_entries_let_the_user_pick_one(page: Any, other_pages: PageServer) -> None:
    p = page(other_pages.url("/pages/atlassian.html"))
    control = fill_control(p)
    control.click()
    assert control_state(control, "choose") == "choose"
    screenshot(p, "choose-account")
    control.locator("button[data-entry-id]", has_text="Jira:admin").click()
    assert wait_filled(p.locator("#two-step-verification-otp-code-input")) in valid_codes(OTHER_SECRET)


def test_backup_code_is_filled_on_the_backup_path_and_marked_used(
    browser: Chromium, page: Any, pages: PageServer
) -> None:
    before = browser.host_request("vault.entries", {"origin": pages.origin()})["entries"][0]["backup_codes_left"]
    p = page(pages.url("/plugins/servlet/twofactor/verify"))
    fill_control(p, "backup").click()
    assert wait_filled(p.locator("#backupCode")) in {"11111111", "22222222"}
    after = browser.host_request("vault.entries", {"origin": pages.origin()})["entries"][0]["backup_codes_left"]
    assert after == before - 1


def test_auto_submit_submits_the_form_after_filling(browser: Chromium, page: Any, pages: PageServer) -> None:
    set_user_settings(browser, {"autoSubmit": True})
    try:
        p = page(pages.url("/pages/atlassian.html"))
        fill_control(p).click()
        p.wait_for_function("document.body.dataset.submitted !== undefined", timeout=10000)
        assert p.evaluate("document.body.dataset.submitted") in valid_codes()
    finally:
        set_user_settings(browser, {})


def test_auto_fill_fills_on_load_only_on_listed_trackers(
    browser: Chromium, page: Any, pages: PageServer, unlisted_pages: PageServer
) -> None:
    set_user_settings(browser, {"autoFillOrigins": [pages.origin()]})
    try:
        p = page(pages.url("/pages/react.html"))
        assert wait_filled(p.locator("#mfa-code")) in valid_codes()
        # The same page on an origin with exactly one account, not listed: scanned, control shown, not filled.
        unlisted = page(unlisted_pages.url("/pages/react.html"))
        unlisted.wait_for_function(SCANNED, timeout=10000)
        fill_control(unlisted)
        assert unlisted.locator("#mfa-code").input_value() == ""
        assert unlisted.locator("#state").text_content() == ""
    finally:
        set_user_settings(browser, {})


# In the page's world: the scan count when the control first appears. The scan that drew it finishes (after
# its auto-fill attempt) only later, as it waits for the service worker in between.
SCAN_AT_CONTROL = """new MutationObserver((_, observer) => {
  if (!document.querySelector('[data-tracker2fa-fill]')) return;
  window.scanAtControl = Number(document.documentElement.dataset.tracker2faScanned ?? 0);
  observer.disconnect();
}).observe(document, {childList: true, subtree: true});"""


def test_auto_fill_never_overwrites_a_typed_value(browser: Chromium, pages: PageServer) -> None:
    set_user_settings(browser, {"autoFillOrigins": [pages.origin()]})
    p = browser.context.new_page()
    try:
        p.add_init_script(SCAN_AT_CONTROL)
        p.goto(pages.url("/pages/late.html"))  # the field appears 600 ms after load
        p.locator("#totp").fill("99")
        fill_control(p)
        # The scan that found the field (and tried to auto-fill it) has finished.
        p.wait_for_function(
            "window.scanAtControl !== undefined && "
            "Number(document.documentElement.dataset.tracker2faScanned) > window.scanAtControl",
            timeout=10000,
        )
        assert p.locator("#totp").input_value() == "99"
    finally:
        p.close()
        set_user_settings(browser, {})


def test_cross_origin_iframe_never_gets_the_embedding_sites_code(page: Any, pages: PageServer) -> None:
    # A page on the bound origin embeds a frame from another origin (localhost): that frame's field is
    # answered for the frame's own origin, which has no account.
    inner = pages.url("/pages/inner.html", host="localhost")
    pages.extra["/framed-elsewhere"] = f"<!doctype html><title>framed</title><iframe id=f src='{inner}'></iframe>"
    p = page(pages.url("/framed-elsewhere"))
    frame = p.frame_locator("#f")
    control = fill_control(frame)
    control.click()
    assert control_state(control, "error", "filled") == "error"
    assert "No account in your vault is bound to this site" in control_message(control)
    assert frame.locator("#c").input_value() == ""


def test_a_tracker_listed_as_accepting_the_next_code_gets_the_next_steps_code_at_once(
    browser: Chromium, page: Any, pages: PageServer
) -> None:
    import time

    import pyotp

    set_user_settings(browser, {"aheadOrigins": [pages.origin()]})
    try:
        while time.time() % 30 > 25:  # not at the very end of a step, so "next" is unambiguous
            time.sleep(0.5)
        step = int(time.time() // 30)
        p = page(pages.url("/pages/atlassian.html"))
        fill_control(p).click()
        assert wait_filled(p.locator("#two-step-verification-otp-code-input")) == pyotp.TOTP(SECRET).at((step + 1) * 30)
    finally:
        set_user_settings(browser, {})


def test_a_code_just_given_to_the_site_is_not_filled_again(browser: Chromium, page: Any, pages: PageServer) -> None:
    import time

    while time.time() % 30 > 25:  # both fills within one step
        time.sleep(0.5)
    first = page(pages.url("/pages/atlassian.html"))
    fill_control(first).click()
    wait_filled(first.locator("#two-step-verification-otp-code-input"))
    second = page(pages.url("/pages/atlassian.html"))
    control = fill_control(second)
    control.click()
    assert control_state(control, "waiting", "filled") == "waiting"
    assert "Code just used — the next one in" in control_message(control)
    assert second.locator("#two-step-verification-otp-code-input").input_value() == ""
