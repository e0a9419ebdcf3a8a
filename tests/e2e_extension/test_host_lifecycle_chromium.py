"""The native port's life in headless Chromium: the host killed mid-session, and no host installed."""

from __future__ import annotations

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
    kill_pid,
    make_vault,
    screenshot,
    shared_chromium,
    valid_codes,
    wait_filled,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def shared_browser(chromium_factory: Any, pages: PageServer, tmp_path_factory: Any) -> Iterator[Shared[Chromium]]:
    def new_browser() -> Chromium:
        vault = tmp_path_factory.mktemp("vault") / "vault.json"
        make_vault(vault, [{"secret": SECRET, "issuer": "Tracker", "account": "alice", "origins": [pages.origin()]}])
        return chromium_factory(vault=vault)

    with shared_chromium(new_browser) as shared:
        yield shared


@pytest.fixture
def browser(shared_browser: Shared[Chromium], request: pytest.FixtureRequest) -> Iterator[Chromium]:
    yield from shared_browser.for_test(request)


@pytest.fixture(scope="module")
def shared_no_host_browser(chromium_factory: Any) -> Iterator[Shared[Chromium]]:
    def new_browser() -> Chromium:
        return chromium_factory(register=False)

    with shared_chromium(new_browser) as shared:
        yield shared


@pytest.fixture
def no_host_browser(shared_no_host_browser: Shared[Chromium], request: pytest.FixtureRequest) -> Iterator[Chromium]:
    yield from shared_no_host_browser.for_test(request)


def test_host_killed_while_in_use_is_restarted_and_fills(browser: Chromium, pages: PageServer) -> None:
    browser.unlock()
    page = browser.open(pages.url("/pages/atlassian.html"))
    field = page.locator("#two-step-verification-otp-code-input")
    control = fill_control(page)
    control.click()
    assert wait_filled(field) in valid_codes()

    [old_pid] = browser.host_pids()
    connections = browser.background("host.connections")
    kill_pid(old_pid)
    browser.worker.evaluate(
        "new Promise((r) => { const t = setInterval(() => { "
        "if (!globalThis.tracker2fa.host.connected) { clearInterval(t); r(true); } }, 20); })"
    )

    # A fresh host process starts locked (the key lived only in the killed one): the extension says so,
    # and after unlocking the fill works through the new port.
    field.fill("")
    control.click()
    assert control_state(control, "error", "filled") == "error"
    assert "locked" in control_message(control)
    browser.unlock()
    control.click()
    assert wait_filled(field) in valid_codes()
    assert browser.background("host.connections") == connections + 1
    assert browser.host_pids() != [old_pid]
    page.close()


@pytest.mark.parametrize(("method", "answer_has"), [("vault.status", "exists"), ("fido.devices", "keys")])
def test_read_only_request_right_after_host_death_is_answered_by_a_new_host(
    browser: Chromium, method: str, answer_has: str
) -> None:
    browser.host_request("hello")
    [pid] = browser.host_pids()
    kill_pid(pid)
    # Sent at once: it either reaches the dying port (and is retried on a new one) or a new port directly.
    assert answer_has in browser.host_request(method)
    assert browser.host_pids() and browser.host_pids() != [pid]


def test_host_not_installed_popup_says_so_with_the_fix(no_host_browser: Chromium) -> None:
    popup = no_host_browser.popup()
    problem = popup.locator("#problem")
    problem.wait_for(state="visible")
    assert problem.get_attribute("data-code") == "host_not_installed"
    assert "not installed" in problem.text_content()
    assert "tracker2fa install" in problem.text_content()
    screenshot(popup, "popup-host-not-installed")
    popup.close()


def test_host_not_installed_inline_control_says_so(no_host_browser: Chromium, pages: PageServer) -> None:
    page = no_host_browser.open(pages.url("/pages/atlassian.html"))
    control = fill_control(page)
    control.click()
    assert control_state(control, "error") == "error"
    assert "not installed" in control_message(control)
    assert page.locator("#two-step-verification-otp-code-input").input_value() == ""
    page.close()
