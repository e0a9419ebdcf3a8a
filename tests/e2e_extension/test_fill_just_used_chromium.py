"""Issue 12 item 1 end to end: enrol at the mock tracker (the real verifier behind it), log out and log in
again within the same 30 s. The inline control must not fill the code the enrolment consumed: it says
"Code just used — the next one in N s", then fills the next code, which the verifier accepts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.shared import Shared

from .conftest import (
    Chromium,
    MockTracker,
    control_message,
    control_state,
    fill_control,
    screenshot,
    shared_chromium,
    unlocked_chromium,
    wait_filled,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def shared_browser(chromium_factory: Any, tmp_path_factory: Any) -> Iterator[Shared[Chromium]]:
    def new_browser() -> Chromium:
        return unlocked_chromium(chromium_factory, tmp_path_factory, [])

    with shared_chromium(new_browser) as shared:
        yield shared


@pytest.fixture
def browser(shared_browser: Shared[Chromium], request: pytest.FixtureRequest) -> Iterator[Chromium]:
    """The test adds the mock's enrolment to the vault: a rerun starts from an empty vault again."""
    yield from shared_browser.for_test(request)


def log_in(browser: Chromium, mock: MockTracker, user: str) -> Any:
    page = browser.open(f"{mock.url}/login")
    page.locator("#login-username").fill(user)
    page.locator("#login-password").fill(f"{user}-demo-pass")
    page.locator("#login-submit").click()
    return page


def test_a_second_login_within_the_step_waits_for_the_next_code_and_is_accepted(
    browser: Chromium, mock: MockTracker
) -> None:
    page = log_in(browser, mock, "bob")
    page.wait_for_selector("body[data-page=enrol]")
    uri = page.locator("#totp-uri").text_content()
    browser.host_request("vault.add", {"uri": uri, "origins": [mock.url]})
    # Enrol early in a 30 s step, so that the second login below lands in the same step.
    while time.time() % 30 > 8:
        time.sleep(0.5)
    page.reload()
    page.wait_for_selector("body[data-page=enrol]")
    fill_control(page).click()
    enrolled_with = wait_filled(page.locator("#enrol-code"))
    enrol_step = int(time.time() // 30)
    page.locator("#enrol-submit").click()
    page.locator("#backup-codes-continue").click()
    page.locator("#logout").click()
    page.wait_for_selector("#login-username")
    # Not waited for: a waiting close hung once for the whole test timeout in CI (Chromium never reported
    # the tab closed); the first page plays no further part.
    page.close(run_before_unload=True)

    page = log_in(browser, mock, "bob")
    page.wait_for_selector("body[data-page=second-factor]")
    control = fill_control(page)
    now = time.time()
    if int(now // 30) != enrol_step or now % 30 > 28:
        # A loaded machine took the second login past the step: the code is fresh again, and the check
        # below (not the enrolment's code, accepted) still holds. Fail loudly rather than test nothing.
        pytest.fail(f"the second login came {now - enrol_step * 30:.0f} s into the enrolment's step; rerun")
    control.click()
    assert control_state(control, "waiting", "filled", "error") == "waiting"
    assert "Code just used — the next one in" in control_message(control)
    screenshot(page, "code-just-used")
    assert page.locator("#otp-code").input_value() == ""
    # The next code is filled the moment it exists (at most one period away).
    handle = page.locator("#otp-code").element_handle()
    page.wait_for_function("el => el.value !== ''", arg=handle, timeout=35000)
    second = page.locator("#otp-code").input_value()
    assert second != enrolled_with
    page.locator("#otp-submit").click()
    page.wait_for_selector("body[data-page=dashboard]")
    assert "bob" in page.locator("#current-user").text_content()
    page.close()
