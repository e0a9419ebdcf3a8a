"""Helpers for the security-key bridge's browser tests: a browser whose host has the virtual key
(``TRACKER2FA_VIRTUAL_KEY`` in the environment the browser passes to the host it starts), the trackers
where the bridge is on, and the extension's consent window (a window of its own, never in the page)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from native_host.devtools import browsers, consent
from native_host.devtools.consent import (  # noqa: F401 (the tests' names for them)
    CONSENT,
    consent_state,
    enter_pin,
    firefox_click,
    firefox_confirm,
    firefox_consent_state,
    firefox_consent_window,
)

from .conftest import Chromium

# Anything of ours a page could find in its DOM while a request is pending (the in-page prompt of old).
OURS_IN_THE_PAGE = "[data-tracker2fa-prompt], [data-tracker2fa-consent]"


def virtual_key_env(home: Path, vkey: Path, vault: Path | None = None, *, auto_confirm: bool = False) -> dict[str, str]:
    """The browser's environment: throwaway HOME, and the virtual key for the host it launches (confirming
    requests by itself, without the consent window, when ``auto_confirm``)."""
    return browsers.profile_env(home, vault=vault, extra=browsers.virtual_key_extra(vkey, auto_confirm=auto_confirm))


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
    browsers.chromium_enable_security_keys(browser.worker, list(origins))


def consent_window(browser: Chromium, timeout_ms: float = 20000, *, skip: tuple[Any, ...] = ()) -> Any:
    """The extension's consent window (a Playwright page of its own), once it is open; ``skip`` excludes
    windows already handled."""
    return consent.consent_window(browser.context, timeout_ms, skip=skip)


def consent_text(consent: Any) -> str:
    """What the user reads in the consent window."""
    return " ".join(consent.locator("main").evaluate("m => [...m.querySelectorAll(':not([hidden]) > *:not([hidden])')]"
                                                    ".filter(e => e.children.length === 0).map(e => e.textContent)"
                                                    ".join(' ')").split())


def confirm_prompt(browser: Chromium, *, allow_attestation: bool = False, skip: tuple[Any, ...] = ()) -> Any:
    """Confirm the request in the consent window with a real click, once its buttons are armed. Returns the
    window (it closes by itself when the request ends)."""
    return consent.confirm(browser.context, allow_attestation=allow_attestation, skip=skip)


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


# ---- the consent window in Firefox, through WebDriver BiDi: native_host.devtools.consent (imported above) ----
