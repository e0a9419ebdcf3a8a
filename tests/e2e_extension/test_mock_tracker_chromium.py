"""The extension against the mock tracker (`tracker2fa mock`, the real verifier behind it): the filled
code and the filled backup code are accepted and the user is logged in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from native_host.devtools.mock import MockTracker, run_mock

from .conftest import Chromium, fill_control, make_vault, screenshot, wait_filled

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mock(tmp_path_factory: Any) -> Iterator[MockTracker]:
    """`tracker2fa mock` on a free port with a database of its own (native_host.devtools.mock, shared with the
    test kit)."""
    with run_mock(tmp_path_factory.mktemp("mock")) as tracker:
        yield tracker


@pytest.fixture(scope="module")
def browser(chromium_factory: Any, mock: MockTracker, tmp_path_factory: Any) -> Iterator[Chromium]:
    from native_host.vault.otpauth import parse_otpauth_uri

    entry = parse_otpauth_uri(mock.alice_uri)
    vault = tmp_path_factory.mktemp("vault") / "vault.json"
    make_vault(
        vault,
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
    b = chromium_factory(vault=vault)
    b.unlock()
    yield b


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
