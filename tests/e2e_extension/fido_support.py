"""Helpers for the security-key bridge's browser tests: a browser whose host has the virtual key
(``TRACKER2FA_VIRTUAL_KEY`` in the environment the browser passes to the host it starts), the trackers
where the bridge is on, and the in-page prompt."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from native_host.devtools import browsers

from .conftest import Chromium

PROMPT = "[data-tracker2fa-prompt]"


def virtual_key_env(home: Path, vkey: Path, vault: Path | None = None) -> dict[str, str]:
    """The browser's environment: throwaway HOME, and the virtual key for the host it launches."""
    return browsers.profile_env(home, vault=vault, extra={"TRACKER2FA_VIRTUAL_KEY": str(vkey)})


def start_chromium_with_virtual_key(playwright: Any, root: Path) -> Chromium:
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    user_data_dir = root / "profile"
    user_data_dir.mkdir(parents=True, exist_ok=True)
    vault = root / "vault.json"
    env = virtual_key_env(home, root / "vkey.json", vault)
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


def confirm_prompt(page: Any) -> None:
    """Wait until the prompt accepts input, then confirm it with a real key press (it holds the focus)."""
    page.locator(f"{PROMPT}[data-state=ready]").wait_for(state="attached", timeout=20000)
    page.keyboard.press("Enter")


def hold_key_with_a_registration(browser: Chromium, url: str) -> Any:
    """Open ``url`` and start a registration that needs the virtual key's PIN; once the prompt asks for the
    PIN, the key is held (its other users get fido.key_busy). Returns the page; closing it frees the key."""
    page = browser.open(url)
    page.evaluate(
        """() => { window.pending = navigator.credentials.create({publicKey: {rp: {name: "T", id: "localhost"},
             user: {id: new Uint8Array(8), name: "a", displayName: "A"}, challenge: new Uint8Array(32),
             authenticatorSelection: {userVerification: "required"},
             pubKeyCredParams: [{type: "public-key", alg: -7}]}}).catch((e) => e.name); }"""
    )
    confirm_prompt(page)
    page.locator(f"{PROMPT}[data-state=pin]").wait_for(state="attached", timeout=20000)
    return page


def prompt_text(page: Any) -> str:
    """The text the user sees in the prompt (a closed shadow root: read through CDP's pierce)."""
    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
    finally:
        cdp.detach()

    def find(node: dict[str, Any]) -> dict[str, Any] | None:
        attributes = node.get("attributes", [])
        if "data-tracker2fa-prompt" in attributes[::2]:
            return node
        for child in [*node.get("children", []), *node.get("shadowRoots", [])]:
            found = find(child)
            if found:
                return found
        return None

    def texts(node: dict[str, Any]) -> list[str]:
        if node.get("nodeName") == "STYLE":
            return []
        out = [node["nodeValue"]] if node.get("nodeType") == 3 else []
        for child in [*node.get("children", []), *node.get("shadowRoots", [])]:
            out += texts(child)
        return out

    prompt = find(root)
    assert prompt is not None, "no prompt in the page"
    return " ".join(t.strip() for t in texts(prompt) if t.strip())


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
