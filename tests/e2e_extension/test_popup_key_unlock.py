"""The popup's "Unlock with security key" in headless Chromium: popup → service worker (ext.unlockWithKey) →
the real host's vault.unlock {"method": "security_key"} → the developer's virtual key (TRACKER2FA_VIRTUAL_KEY),
with a vault enrolled by the real CLI (`tracker2fa vault key add`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from native_host.devtools import browsers
from tests.support.shared import Shared

from .conftest import (
    PASSWORD,
    SECRET,
    Chromium,
    PageServer,
    host_pids_for_home,
    kill_pid,
    make_vault,
    shared_chromium,
    stop_chromium,
)
from .fido_support import enable_security_keys, hold_key_with_a_registration, virtual_key_env

pytestmark = pytest.mark.browser
WRONG_KEY_TEXT = "not enrolled for this vault"  # common/messages.js, wrong_security_key
ASKING_TEXT = "Asking your security key…"  # _locales/en popup_key_waiting
BUSY_TEXT = "The security key is busy with another request; waiting…"  # _locales/en popup_key_busy


def tracker2fa() -> str:
    found = Path(sys.executable).with_name("tracker2fa")
    return str(found) if found.exists() else str(shutil.which("tracker2fa"))


def enrol_virtual_key(vault: Path, vkey: Path) -> None:
    """`tracker2fa vault key add` with the virtual key, as a developer would run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER2FA_")}
    env["TRACKER2FA_VIRTUAL_KEY"] = str(vkey)
    done = subprocess.run(
        [tracker2fa(), "vault", "key", "add", "--name", "virtual key", "--password-stdin", "--vault", str(vault)],
        input=PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def start(playwright_instance: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Chromium]]:
    """Start a Chromium whose host uses ``vault`` and the virtual key at ``vkey`` (closed at the module's end)."""
    started: list[Chromium] = []

    def factory(vault: Path, vkey: Path) -> Chromium:
        root = tmp_path_factory.mktemp("key-unlock")
        home, profile = root / "home", root / "profile"
        home.mkdir()
        profile.mkdir()
        env = virtual_key_env(home, vkey, vault)
        browsers.register_host("chromium", env, user_data_dir=profile)
        context = browsers.launch_chromium(playwright_instance, profile, env)
        browser = Chromium(context=context, home=home, user_data_dir=profile, vault=vault)
        assert browser.worker is not None
        started.append(browser)
        return browser

    yield factory
    for browser in started:
        with contextlib.suppress(Exception):
            browser.context.close()
        for pid in host_pids_for_home(browser.home):
            kill_pid(pid)


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(vault, virtual key file): a vault with one entry and a key slot for that virtual key."""
    root = tmp_path_factory.mktemp("enrolled")
    vault, vkey = root / "vault.json", root / "vkey.json"
    make_vault(vault, [{"secret": SECRET, "issuer": "Jira", "account": "ann"}])
    enrol_virtual_key(vault, vkey)
    return vault, vkey


@pytest.fixture(scope="module")
def shared_browser(start: Callable[..., Chromium], enrolled: tuple[Path, Path]) -> Iterator[Shared[Chromium]]:
    with shared_chromium(lambda: start(*enrolled)) as shared:
        yield shared


@pytest.fixture
def browser(shared_browser: Shared[Chromium], request: pytest.FixtureRequest) -> Iterator[Chromium]:
    yield from shared_browser.for_test(request)


def locked_popup(browser: Chromium) -> Any:
    browser.lock()
    popup = browser.popup()
    popup.wait_for_selector("body[data-vault=locked]")
    return popup


def test_the_enrolled_key_unlocks_the_vault_from_the_popup(browser: Chromium) -> None:
    popup = locked_popup(browser)
    popup.locator("#unlock-key").click()
    popup.wait_for_selector("body[data-vault=unlocked]", timeout=30000)
    assert popup.locator("#all-entries li").count() == 1
    assert browser.host_request("vault.status")["unlocked"] is True
    popup.close()


def test_a_key_that_is_not_enrolled_is_refused_with_its_message_and_the_vault_stays_locked(
    start: Callable[..., Chromium], enrolled: tuple[Path, Path]
) -> None:
    vault, vkey = enrolled
    other = start(vault, vkey.with_name("another-vkey.json"))  # a different virtual key
    popup = locked_popup(other)
    popup.locator("#unlock-key").click()
    popup.wait_for_selector("#unlock-error:not([hidden])", timeout=30000)
    assert popup.locator("#unlock-error").get_attribute("data-code") == "wrong_security_key"
    assert WRONG_KEY_TEXT in popup.locator("#unlock-error").text_content()
    assert popup.locator("body").get_attribute("data-vault") == "locked"
    assert other.host_request("vault.status")["unlocked"] is False
    assert popup.locator("#unlock-key").is_visible()  # the user can try again (or type the password)
    popup.close()


def test_a_vault_without_a_key_slot_offers_only_the_password(
    start: Callable[..., Chromium], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("no-slot")
    make_vault(root / "vault.json", [{"secret": SECRET, "issuer": "Jira", "account": "ann"}])
    plain = start(root / "vault.json", root / "vkey.json")
    assert plain.host_request("vault.status")["security_keys"] == []
    popup = locked_popup(plain)
    assert popup.locator("#unlock-form").is_visible()
    assert popup.locator("#unlock-key").is_hidden()
    popup.close()


def test_a_vault_with_a_key_slot_offers_the_key_unlock(browser: Chromium) -> None:
    popup = locked_popup(browser)
    assert popup.locator("#unlock-key").is_visible()
    popup.close()


@pytest.fixture(scope="module")
def shared_held_key(
    start: Callable[..., Chromium], tmp_path_factory: pytest.TempPathFactory, pages: PageServer
) -> Iterator[Shared[Chromium]]:
    import hashlib

    from native_host.fido.softkey.store import KeyStore

    @contextlib.contextmanager
    def running() -> Iterator[Chromium]:
        root = tmp_path_factory.mktemp("busy")
        vault, vkey = root / "vault.json", root / "vkey.json"
        store = KeyStore()
        store.pin_hash = hashlib.sha256(b"4711-pin").digest()[:16]
        store.save(vkey)
        make_vault(vault, [{"secret": SECRET, "issuer": "Jira", "account": "ann"}])
        enrol_virtual_key(vault, vkey)
        busy = start(vault, vkey)
        try:
            enable_security_keys(busy, pages.origin("localhost"))
            hold_key_with_a_registration(busy, pages.url("/pages/fido_legacy.html", host="localhost"))
            yield busy
        finally:
            stop_chromium(busy)  # the page's request goes with it

    with Shared(running) as shared:
        yield shared


@pytest.fixture
def held_key(shared_held_key: Shared[Chromium], request: pytest.FixtureRequest) -> Iterator[Chromium]:
    """A browser whose enrolled virtual key is held by a page's registration waiting for the key's PIN.

    The virtual key answers presence by itself, so a key unlock is made to wait the way it does with a
    real key that another request holds (fido.key_busy): long enough to cancel it.
    """
    yield from shared_held_key.for_test(request)


def waiting_unlock(browser: Chromium) -> Any:
    popup = locked_popup(browser)
    popup.locator("#unlock-key").click()
    popup.locator("#cancel-key").wait_for(state="visible")
    return popup


def test_the_popup_says_touch_your_security_key_when_the_host_reports_the_key_waits(held_key: Chromium) -> None:
    popup = waiting_unlock(held_key)
    # The key is held by the page's registration, so the host may already have said fido.key_busy.
    assert popup.locator("#key-status").text_content() in (ASKING_TEXT, BUSY_TEXT)
    # The one synthetic step: the virtual key never waits for a touch, so the host's fido.touch event for
    # the waiting vault.unlock is fed to the service worker's real host connection, as the host sends it.
    held_key.background(
        "(() => { const [id] = [...host.pending].find(([, w]) => w.method === 'vault.unlock');"
        " host.receive(host.port, {event: 'fido.touch', id, device: 'virtual'}); })()"
    )
    popup.locator("#key-status", has_text="Touch your security key").wait_for(state="visible", timeout=5000)
    assert popup.locator("#key-status").is_visible()
    popup.locator("#cancel-key").click()
    popup.wait_for_selector("#unlock-error:not([hidden])", timeout=30000)
    popup.close()


def test_cancel_stops_waiting_for_the_key_and_says_so(held_key: Chromium) -> None:
    popup = waiting_unlock(held_key)
    assert popup.locator("#unlock-key").is_hidden()
    popup.locator("#cancel-key").click()
    popup.wait_for_selector("#unlock-error:not([hidden])", timeout=30000)
    assert popup.locator("#unlock-error").get_attribute("data-code") == "fido_cancelled"
    assert "cancelled" in popup.locator("#unlock-error").text_content()
    assert popup.locator("#cancel-key").is_hidden() and popup.locator("#unlock-key").is_visible()
    assert held_key.host_request("vault.status")["unlocked"] is False
    popup.close()
