"""The admin's TOTP settings end to end (issue 23): the admin CLI sets 8 digits, 60 s, SHA-256 and the issuer
"Acme Jira" on the running mock tracker's database; bob's first login shows the enrolment QR code; the
popup adds the account from the QR code it reads off the page, the extension fills an 8-digit code made
with 60 s steps and SHA-256, and the verifier accepts it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from native_host.devtools import browsers

from .conftest import Chromium, fill_control, screenshot, unlocked_chromium, wait_filled
from .mock_tracker import MockTracker, running_mock

pytestmark = pytest.mark.browser


# Per test, not per module: a rerun (CI reruns browser tests once) starts again from a fresh tracker and
# vault, where bob has no factor yet and the vault no account.
@pytest.fixture
def mock(tmp_path_factory: Any) -> Iterator[MockTracker]:
    with running_mock(tmp_path_factory.mktemp("mock")) as tracker:
        done = tracker.admin("set-policy", "--totp-digits", "8", "--totp-period", "60", "--totp-algorithm",
                             "SHA256", "--totp-window", "2", "--issuer", "Acme Jira")
        assert done.returncode == 0, done.stderr
        yield tracker


@pytest.fixture
def browser(chromium_factory: Any, tmp_path_factory: Any) -> Iterator[Chromium]:
    b = unlocked_chromium(chromium_factory, tmp_path_factory, [])  # empty: the account comes from the QR code
    yield b


def popup_in_own_window(browser: Chromium, tab_page: Any) -> Any:
    """The popup in a window of its own, so the enrolment page stays the visible tab it captures."""
    url = browsers.chromium_extension_url(f"popup/popup.html?tab={browser.tab_id(tab_page)}")
    with browser.context.expect_page() as info:
        browser.background(f"chrome.windows.create({{url: {json.dumps(url)}, type: 'popup'}}).then(() => true)")
    popup = info.value
    popup.wait_for_selector("body[data-ready=true]")
    return popup


def test_an_account_added_from_the_enrolment_qr_code_fills_an_8_digit_60_second_code_the_verifier_accepts(
    browser: Chromium, mock: MockTracker
) -> None:
    page = browser.open(f"{mock.url}/login")
    page.locator("#login-username").fill("bob")
    page.locator("#login-password").fill("bob-demo-pass")
    page.locator("#login-submit").click()
    page.wait_for_url("**/enrol")
    assert page.locator("#totp-qr").is_visible()
    uri = page.locator("#totp-uri").text_content() or ""
    query = {k: v[0] for k, v in parse_qs(urlsplit(uri).query).items()}
    assert (query["digits"], query["period"], query["algorithm"], query["issuer"]) == ("8", "60", "SHA256",
                                                                                        "Acme Jira")

    popup = popup_in_own_window(browser, page)
    popup.wait_for_selector("#scan-qr", state="visible")  # an empty vault opens "Add account" by itself
    popup.locator("#scan-qr").click()
    popup.wait_for_selector("#add-result[data-state]", timeout=15000)
    result = popup.locator("#add-result")
    assert result.get_attribute("data-state") == "added", result.text_content()
    popup.close()
    (entry,) = browser.host_request("vault.entries", {"origin": mock.url})["entries"]
    assert (entry["label"], entry["digits"], entry["period"], entry["algorithm"]) == ("Acme Jira:bob", 8, 60,
                                                                                      "SHA256")

    fill_control(page).click()
    code = wait_filled(page.locator("#enrol-code"))
    app = pyotp.parse_uri(uri)  # what the QR code says, computed by pyotp, not by the host or the verifier
    assert len(code) == 8 and code in {app.at(t) for t in _around_now(app)}
    screenshot(page, "mock-enrol-8-digits")
    page.locator("#enrol-submit").click()
    page.wait_for_url("**/backup-codes")  # the verifier accepted the filled code: the factor is on
    page.locator("#backup-codes-continue").click()
    page.wait_for_selector("body[data-page=dashboard]")
    page.close()


def _around_now(app: pyotp.TOTP) -> list[float]:
    """Times in the previous, current and next 60 s step (a fill may straddle a boundary)."""
    import time

    now = time.time()
    return [now - app.interval, now, now + app.interval]
