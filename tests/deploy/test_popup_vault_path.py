"""The popup's "no vault" message names the vault the browser-started host opens (which may not be the one
a shell's TRACKER2FA_VAULT points to), and how to create exactly that one."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from native_host.devtools import browsers
from tests.e2e_extension.conftest import host_pids_for_home, kill_pid, start_chromium

pytestmark = pytest.mark.browser


def test_popup_without_a_vault_names_the_path_the_browsers_host_uses(playwright_instance: Any, tmp_path: Path):
    vault = tmp_path / "seen-by-the-browser" / "vault.json"  # not created
    browser = start_chromium(playwright_instance, tmp_path, vault=vault)
    try:
        page = browser.context.new_page()
        page.goto(browsers.chromium_extension_url("popup/popup.html"))
        page.locator("body[data-vault=missing]").wait_for(state="attached", timeout=15000)
        message = page.locator("#vault-status").text_content()
        assert str(vault) in message
        assert f"tracker2fa vault init --vault {vault}" in message
    finally:
        with contextlib.suppress(Exception):
            browser.context.close()
        for pid in host_pids_for_home(browser.home):
            kill_pid(pid)
