"""Helpers for the security-key bridge's browser tests: a browser whose host has the virtual key
(``TRACKER2FA_VIRTUAL_KEY`` in the environment the browser passes to the host it starts), the trackers
where the bridge is on, and the extension's consent window (a window of its own, never in the page)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from native_host.devtools import browsers

from .conftest import Chromium

CONSENT = "/consent/consent.html"
# Anything of ours a page could find in its DOM while a request is pending (the in-page prompt of old).
OURS_IN_THE_PAGE = "[data-tracker2fa-prompt], [data-tracker2fa-consent]"


def virtual_key_env(home: Path, vkey: Path, vault: Path | None = None, *, auto_confirm: bool = False) -> dict[str, str]:
    """The browser's environment: throwaway HOME, and the virtual key for the host it launches (confirming
    requests by itself, without the consent window, when ``auto_confirm``)."""
    extra = {"TRACKER2FA_VIRTUAL_KEY": str(vkey)}
    if auto_confirm:
        extra["TRACKER2FA_VIRTUAL_KEY_AUTO_CONFIRM"] = "1"
    return browsers.profile_env(home, vault=vault, extra=extra)


def start_chromium_with_virtual_key(playwright: Any, root: Path, *, auto_confirm: bool = False) -> Chromium:
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    user_data_dir = root / "profile"
    user_data_dir.mkdir(parents=True, exist_ok=True)
    vault = root / "vault.json"
    env = virtual_key_env(home, root / "vkey.json", vault, auto_confirm=auto_confirm)
    browsers.register_host("chromium", env, user_data_dir=user_data_dir)
    context = browsers.launch_chromium(playwright, user_data_dir, env)
    browser = Chromium(context=context, home=home, user_data_dir=user_data_dir, vault=vault)
    assert browser.worker is not None
    return browser


def enable_security_keys(browser: Chromium, *origins: str) -> None:
    """Turn the bridge on for ``origins`` (the user's setting) and wait until its scripts are registered."""
    settings = json.dumps({"securityKeyOrigins": list(origins)})
    browser.background(
        f"(await chrome.storage.local.set({{settings: {settings}}}), await globalThis.tracker2fa.syncFidoScripts())"
    )


def consent_window(browser: Chromium, timeout_ms: float = 20000, *, skip: tuple[Any, ...] = ()) -> Any:
    """The extension's consent window (a Playwright page of its own), once it is open; ``skip`` excludes
    windows already handled."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        for page in browser.context.pages:
            if CONSENT in page.url and page not in skip and not page.is_closed():
                return page
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no consent window opened; pages: {[p.url for p in browser.context.pages]}")
        with contextlib.suppress(PlaywrightTimeout):
            browser.context.wait_for_event("page", timeout=min(remaining, 0.5) * 1000)


def consent_state(consent: Any, state: str, timeout_ms: float = 20000) -> None:
    """Wait until the consent window is in ``state`` (asking, armed, running, pin, ended)."""
    consent.locator(f"body[data-state={state}]").wait_for(state="attached", timeout=timeout_ms)


def consent_text(consent: Any) -> str:
    """What the user reads in the consent window."""
    return " ".join(consent.locator("main").evaluate("m => [...m.querySelectorAll(':not([hidden]) > *:not([hidden])')]"
                                                    ".filter(e => e.children.length === 0).map(e => e.textContent)"
                                                    ".join(' ')").split())


def confirm_prompt(browser: Chromium, *, allow_attestation: bool = False, skip: tuple[Any, ...] = ()) -> Any:
    """Confirm the request in the consent window with a real click, once its buttons are armed. Returns the
    window (it closes by itself when the request ends)."""
    consent = consent_window(browser, skip=skip)
    consent_state(consent, "armed")
    if allow_attestation:
        consent.locator("#allow-attestation").check()
    consent.locator("#confirm").click()
    return consent


def enter_pin(consent: Any, pin: str) -> None:
    """Type ``pin`` into the consent window's PIN form and send it."""
    consent_state(consent, "pin")
    consent.locator("#pin").fill(pin)
    consent.locator("#pin-submit").click()


def hold_key_with_a_registration(browser: Chromium, url: str) -> Any:
    """Open ``url`` and start a registration that needs the virtual key's PIN; once the consent window asks
    for the PIN, the key is held (its other users get fido.key_busy). Returns the page; closing it frees the key."""
    page = browser.open(url)
    page.evaluate(
        """() => { window.pending = navigator.credentials.create({publicKey: {rp: {name: "T", id: "localhost"},
             user: {id: new Uint8Array(8), name: "a", displayName: "A"}, challenge: new Uint8Array(32),
             authenticatorSelection: {userVerification: "required"},
             pubKeyCredParams: [{type: "public-key", alg: -7}]}}).catch((e) => e.name); }"""
    )
    consent_state(confirm_prompt(browser), "pin")
    return page


def b64url_decode(value: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def verify_u2f_registration(app_id: str, response: dict[str, str]) -> tuple[bytes, bytes]:
    """Check a U2F JS API register response's attestation signature; returns (key handle, public key)."""
    from fido2.ctap1 import RegistrationData

    client_data = b64url_decode(response["clientData"])
    assert json.loads(client_data)["typ"] == "navigator.id.finishEnrollment"
    data = RegistrationData(b64url_decode(response["registrationData"]))
    data.verify(hashlib.sha256(app_id.encode()).digest(), hashlib.sha256(client_data).digest())
    return data.key_handle, data.public_key


def verify_u2f_signature(app_id: str, public_key: bytes, response: dict[str, str]) -> dict[str, Any]:
    """Check a U2F JS API sign response against the registered public key; returns its clientData."""
    from fido2.ctap1 import SignatureData

    client_data = b64url_decode(response["clientData"])
    data = SignatureData(b64url_decode(response["signatureData"]))
    data.verify(hashlib.sha256(app_id.encode()).digest(), hashlib.sha256(client_data).digest(), public_key)
    return dict(json.loads(client_data))


# ---- the consent window in Firefox, through WebDriver BiDi (a browsing context of its own) ----


def firefox_consent_window(bidi: browsers.FirefoxBidi, timeout: float = 30, *, skip: tuple[str, ...] = ()) -> str:
    """The BiDi context of the extension's consent window, once it is open."""
    deadline = time.monotonic() + timeout
    while True:
        for context in bidi.call("browsingContext.getTree", {})["contexts"]:
            if CONSENT in context["url"] and context["context"] not in skip:
                return str(context["context"])
        if time.monotonic() > deadline:
            raise AssertionError("no consent window opened in Firefox")
        time.sleep(0.05)


def firefox_consent_state(bidi: browsers.FirefoxBidi, context: str, state: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while True:
        with contextlib.suppress(browsers.BrowserError):
            seen = bidi.evaluate(context, "document.body?.dataset.state ?? null")
        if seen == state:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the consent window stayed {seen!r}, never {state!r}")
        time.sleep(0.05)


def firefox_click(bidi: browsers.FirefoxBidi, context: str, selector: str) -> None:
    """A trusted click on the middle of ``selector`` in ``context``."""
    x, y = bidi.evaluate(context, f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                                  ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    bidi.click(context, x, y)


def firefox_confirm(bidi: browsers.FirefoxBidi, *, skip: tuple[str, ...] = ()) -> str:
    """Confirm the request in Firefox's consent window with a real click once it is armed; returns its context."""
    context = firefox_consent_window(bidi, skip=skip)
    firefox_consent_state(bidi, context, "armed")
    firefox_click(bidi, context, "#confirm")
    return context
