"""The extension against the mock tracker (`tracker2fa mock`, the real verifier behind it): the filled
code and the filled backup code are accepted and the user is logged in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.shared import Shared

from .conftest import Chromium, fill_control, screenshot, shared_chromium, unlocked_chromium, wait_filled
from .mock_tracker import MockTracker

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def shared_browser(chromium_factory: Any, tmp_path_factory: Any) -> Iterator[Shared[Chromium]]:
    from native_host.vault.otpauth import parse_otpauth_uri

    def new_browser(mock: MockTracker) -> Chromium:
        entry = parse_otpauth_uri(mock.alice_uri)
        return unlocked_chromium(
            chromium_factory,
            tmp_path_factory,
            [
                {
                    "secret": entry.secret,
                    "issuer": entry.issuer,
                    "account": entry.account,
                    "digits": entry.digits,
                    "period": entry.period,
                    "algorithm": entry.algorithm,
                    "origins": [mock.url],
                    "backup_codes": [{"code": c, "used": False} for c in mock.alice_backup_codes],
                }
            ],
        )

    with shared_chromium(new_browser) as shared:
        yield shared


@pytest.fixture
def browser(shared_browser: Shared[Chromium], mock: MockTracker, request: pytest.FixtureRequest) -> Iterator[Chromium]:
    """A browser whose vault holds alice's secret and backup codes of ``mock`` (a new mock, a new browser)."""
    yield from shared_browser.for_test(request, mock)


def log_in_as_alice(browser: Chromium, mock: MockTracker) -> Any:
    browser.context.clear_cookies()
    page = browser.open(f"{mock.url}/login")
    page.locator("#login-username").fill("alice")
    page.locator("#login-password").fill("alice-demo-pass")
    page.locator("#login-submit").click()
    page.wait_for_url("**/2fa")
    return page


def test_filled_code_logs_alice_in_to_the_mock_tracker(browser: Chromium, mock: MockTracker) -> None:
    page = log_in_as_alice(browser, mock)
    fill_control(page).click()
    wait_filled(page.locator("#otp-code"))
    screenshot(page, "mock-tracker-filled")
    page.locator("#otp-submit").click()
    page.wait_for_selector("body[data-page=dashboard]")
    assert "alice" in page.locator("#current-user").text_content()
    page.close()


def test_filled_backup_code_logs_alice_in_and_is_used_up(browser: Chromium, mock: MockTracker) -> None:
    before = browser.host_request("vault.entries", {"origin": mock.url})["entries"][0]["backup_codes_left"]
    page = log_in_as_alice(browser, mock)
    page.locator("#use-backup-code").click()
    page.wait_for_url("**/2fa/backup")
    fill_control(page, "backup").click()
    assert wait_filled(page.locator("#backup-code")) in mock.alice_backup_codes
    page.locator("#backup-submit").click()
    page.wait_for_selector("body[data-page=dashboard]")
    after = browser.host_request("vault.entries", {"origin": mock.url})["entries"][0]["backup_codes_left"]
    assert after == before - 1
    page.close()
