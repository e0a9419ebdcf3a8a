"""The security-key bridge in Firefox ESR (headless, WebDriver BiDi): the mock tracker's key registration
and login, and a legacy window.u2f page, through the real host and its virtual key."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from native_host.devtools import browsers
from tests.support.shared import Shared

from .conftest import PageServer, host_pids_for_home, kill_pid
from .fido_support import firefox_confirm, verify_u2f_registration, verify_u2f_signature, virtual_key_env
from .mock_tracker import MockTracker
from .test_firefox import Firefox

pytestmark = pytest.mark.browser
CHALLENGE = base64.urlsafe_b64encode(b"legacy u2f challenge in firefox").rstrip(b"=").decode()


def admin_enables_security_keys(home: Path, *origins: str) -> None:
    """The admin's list of trackers (securityKeyTrackers) through Firefox's per-user managed storage."""
    browsers.firefox_managed_storage(home, {"securityKeyTrackers": list(origins)})


def wait_for_bridge(firefox: Firefox, url: str) -> None:
    """Reload ``url`` until the bridge's scripts (registered by the service worker at start) are in it."""
    deadline = time.monotonic() + 30
    while True:
        firefox.bidi.navigate(firefox.tab, url)
        if firefox.bidi.evaluate(firefox.tab, "typeof window.u2f === 'object'"):
            return
        assert time.monotonic() < deadline, "the security-key bridge was never registered"
        time.sleep(0.5)


@contextlib.contextmanager
def firefox_with_the_bridge(root: Path, env: dict[str, str], pages: PageServer, origins: list[str],
                            make: Callable[[browsers.FirefoxBidi, Path], Firefox] = Firefox) -> Iterator[Firefox]:
    """Firefox with the host registered for ``env`` (HOME under ``root``), security keys on for ``origins``
    (the admin's list) and the bridge in the pages; stopped, with its hosts, at the end."""
    home = Path(env["HOME"])
    admin_enables_security_keys(home, *origins)
    browsers.register_host("firefox", env)
    bidi = browsers.FirefoxBidi.start(root / "profile", env)
    try:
        bidi.install_extension()
        ff = make(bidi, home)
        wait_for_bridge(ff, pages.url("/pages/fido_legacy.html", host="localhost"))
        yield ff
    finally:
        bidi.close()
        for pid in host_pids_for_home(home):
            kill_pid(pid)


@pytest.fixture(scope="module")
def shared_firefox(tmp_path_factory: Any, pages: PageServer) -> Iterator[Shared[Firefox]]:
    @contextlib.contextmanager
    def running(mock: MockTracker) -> Iterator[Firefox]:
        root = tmp_path_factory.mktemp("fido-firefox")
        (root / "home").mkdir()
        env = virtual_key_env(root / "home", root / "vkey.json", root / "vault.json")
        with firefox_with_the_bridge(root, env, pages, [mock.url, pages.origin("localhost")]) as ff:
            yield ff

    with Shared(running) as shared:
        yield shared


@pytest.fixture
def firefox(shared_firefox: Shared[Firefox], mock: MockTracker, request: pytest.FixtureRequest) -> Iterator[Firefox]:
    """Firefox with the virtual key and the bridge on for ``mock``; fresh after a failed test."""
    yield from shared_firefox.for_test(request, mock)


def outcome_of(success: str) -> str:
    """An expression: "done" once ``success`` holds, "failed: <reason>" when the mock's ceremony failed."""
    return (
        f"(() => {{ if ({success}) return 'done'; if (document.body?.dataset.webauthn === 'failed') "
        "return 'failed: ' + document.querySelector('#webauthn-error').textContent; return null; })()"
    )


def page_action(firefox: Firefox, tab: str, script: str) -> None:
    firefox.bidi.evaluate(tab, f"(() => {{ {script}; return true; }})()")


def log_in_as_alice(firefox: Firefox, mock: MockTracker) -> str:
    tab = firefox.tab
    firefox.bidi.call("storage.deleteCookies", {})
    firefox.bidi.navigate(tab, f"{mock.url}/login")
    page_action(
        firefox,
        tab,
        "document.querySelector('#login-username').value = 'alice';"
        "document.querySelector('#login-password').value = 'alice-demo-pass';"
        "document.querySelector('#login-submit').click()",
    )
    firefox.wait_for(tab, "location.pathname === '/2fa' && document.body.dataset.ready === 'true'")
    return tab


def test_firefox_mock_tracker_key_registration_and_login(firefox: Firefox, mock: MockTracker) -> None:
    tab = log_in_as_alice(firefox, mock)
    code = pyotp.parse_uri(mock.alice_uri).now()
    page_action(
        firefox,
        tab,
        f"document.querySelector('#otp-code').value = '{code}';document.querySelector('#otp-submit').click()",
    )
    firefox.wait_for(tab, "document.body.dataset.page === 'dashboard'")
    firefox.bidi.navigate(tab, f"{mock.url}/account")
    firefox.wait_for(tab, "document.body.dataset.ready === 'true'")
    page_action(
        firefox,
        tab,
        "document.querySelector('#key-name').value = 'firefox virtual key';"
        "document.querySelector('#register-key').click()",
    )
    firefox_confirm(firefox.bidi)
    registered = "document.querySelector('#security-keys')?.textContent.includes('firefox virtual key')"
    outcome = firefox.wait_for(tab, outcome_of(registered), timeout=30)
    assert outcome == "done", outcome

    tab = log_in_as_alice(firefox, mock)
    page_action(firefox, tab, "document.querySelector('#use-security-key').click()")
    firefox_confirm(firefox.bidi)
    outcome = firefox.wait_for(tab, outcome_of("document.body.dataset.page === 'dashboard'"), timeout=30)
    assert outcome == "done", outcome
    assert "alice" in firefox.bidi.evaluate(tab, "document.querySelector('#current-user').textContent")


def test_firefox_legacy_u2f_page_registers_then_signs_with_an_app_id(firefox: Firefox, pages: PageServer) -> None:
    tab = firefox.tab
    firefox.bidi.navigate(tab, pages.url("/pages/fido_legacy.html", host="localhost"))
    app_id = pages.url("/u2f/app-id.json", host="localhost")  # not the origin: the appId must reach the key
    args = f"{json.dumps(app_id)}, {json.dumps(CHALLENGE)}"
    page_action(firefox, tab, f"u2fRegister({args}).then((r) => window.answer = r)")
    firefox_confirm(firefox.bidi)
    registered = firefox.wait_for(tab, "window.answer", timeout=30)
    assert "errorCode" not in registered, registered
    key_handle, public_key = verify_u2f_registration(app_id, registered)

    handle = base64.urlsafe_b64encode(key_handle).rstrip(b"=").decode()
    page_action(
        firefox,
        tab,
        f"window.answer = null; u2fSign({args}, {json.dumps(handle)}).then((r) => window.answer = r)",
    )
    firefox_confirm(firefox.bidi)
    signed = firefox.wait_for(tab, "window.answer", timeout=30)
    assert signed.get("keyHandle") == handle, signed
    client_data = verify_u2f_signature(app_id, public_key, signed)
    assert client_data["origin"] == pages.origin("localhost")


@pytest.fixture(scope="module")
def auto_firefox(tmp_path_factory: Any, pages: PageServer) -> Iterator[Firefox]:
    """Firefox whose host's virtual key confirms by itself: a request that reached the host is answered."""
    root = tmp_path_factory.mktemp("fido-firefox-auto")
    (root / "home").mkdir()
    env = virtual_key_env(root / "home", root / "vkey.json", root / "vault.json", auto_confirm=True)
    with firefox_with_the_bridge(root, env, pages, [pages.origin("localhost")]) as ff:
        yield ff


def test_firefox_a_cross_site_parent_frame_never_gets_the_trackers_channel(auto_firefox: Firefox,
                                                                          pages: PageServer) -> None:
    tab = auto_firefox.tab
    auto_firefox.bidi.navigate(tab, pages.url("/pages/fido_attacker.html", host="127.0.0.1"))
    tracker = pages.url("/pages/fido_legacy.html", host="localhost")
    for attempt in range(6):
        posts = auto_firefox.bidi.evaluate(
            tab,
            f"""(() => {{ const frame = document.getElementById("tracker");
                frame.src = {json.dumps(tracker)} + "?attempt=" + Math.random();
                return attackFor(() => frame.contentWindow, 1200); }})()""",
        )
        assert posts > 50 * (attempt + 1)
    time.sleep(1.5)
    assert auto_firefox.bidi.evaluate(tab, "window.answers") == []
    # The tracker's own request in that frame still works.
    frame = auto_firefox.bidi.call("browsingContext.getTree", {"root": tab})["contexts"][0]["children"][0]["context"]
    created = auto_firefox.bidi.evaluate(
        frame,
        """navigator.credentials.create({publicKey: {rp: {name: "T", id: "localhost"},
             challenge: new Uint8Array(32), user: {id: new Uint8Array(8), name: "a", displayName: "A"},
             pubKeyCredParams: [{type: "public-key", alg: -7}]}})
           .then((c) => "created " + c.id, (e) => e.name + ": " + e.message)""",
    )
    assert created.startswith("created "), created
