"""The extension against the mock tracker (`tracker2fa mock`, the real verifier behind it): the filled
code and the filled backup code are accepted and the user is logged in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import Chromium, fill_control, make_vault, screenshot, wait_filled

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[2]


@dataclass
class MockTracker:
    url: str
    alice_uri: str
    alice_backup_codes: list[str]


@pytest.fixture(scope="module")
def mock(tmp_path_factory: Any) -> Iterator[MockTracker]:
    root = tmp_path_factory.mktemp("mock")
    env = {**os.environ, "HOME": str(root), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "native_host", "mock", "--port", "0", "--db", f"sqlite:///{root / 'mock.db'}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "backup codes:" in line:
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(60) or not any("backup codes:" in line for line in lines):
            pytest.fail("tracker2fa mock did not start:\n" + "".join(lines))
        text = "".join(lines)
        url = re.search(r"Jibra mock tracker: (http://localhost:\d+)/", text).group(1)  # type: ignore[union-attr]
        uri = re.search(r"add to your authenticator: (otpauth://\S+)", text).group(1)  # type: ignore[union-attr]
        codes = re.search(r"backup codes: (.+)", text).group(1).split()  # type: ignore[union-attr]
        yield MockTracker(url, uri, codes)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


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
