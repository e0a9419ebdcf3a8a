"""The extension's consent window for a security-key request, driven as a user would: wait for it, wait until
its buttons are armed (half a second after it shows), click *Sign in* / *Register*, type the PIN.

The window is an extension window of its own (``consent/consent.html``), never part of the page: Playwright
sees it as a page of the browser context, WebDriver BiDi as a top-level browsing context. Its contract
(``body[data-state]``: loading, asking, armed, running, pin, ended; ``#confirm``, ``#cancel``, ``#pin`` …) is in
docs/developer-guide.md. With the virtual key confirming by itself (``TRACKER2FA_VIRTUAL_KEY_AUTO_CONFIRM=1``)
no window opens and none of this is needed.

Shared by the test kit (:mod:`.kit`) and the repository's browser tests.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from .browsers import BrowserError, FirefoxBidi

CONSENT = "/consent/consent.html"


# ---- Chromium (Playwright) ----------------------------------------------------------------------------------


def consent_window(context: Any, timeout_ms: float = 20000, *, skip: tuple[Any, ...] = ()) -> Any:
    """The consent window (a Playwright page) of ``context`` once it is open; ``skip`` excludes windows handled."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        for page in context.pages:
            if CONSENT in page.url and page not in skip and not page.is_closed():
                return page
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no consent window opened; pages: {[p.url for p in context.pages]}")
        with contextlib.suppress(PlaywrightTimeout):
            context.wait_for_event("page", timeout=min(remaining, 0.5) * 1000)


def consent_state(consent: Any, state: str, timeout_ms: float = 20000) -> None:
    """Wait until the consent window is in ``state`` (asking, armed, running, pin, ended)."""
    consent.locator(f"body[data-state={state}]").wait_for(state="attached", timeout=timeout_ms)


def confirm(context: Any, *, allow_attestation: bool = False, skip: tuple[Any, ...] = ()) -> Any:
    """Confirm the pending request with a real click once the window's buttons are armed; returns the window
    (it closes by itself when the request ends)."""
    consent = consent_window(context, skip=skip)
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


# ---- Firefox (WebDriver BiDi) -------------------------------------------------------------------------------


def firefox_consent_window(bidi: FirefoxBidi, timeout: float = 30, *, skip: tuple[str, ...] = ()) -> str:
    """The BiDi browsing context of the consent window, once it is open."""
    deadline = time.monotonic() + timeout
    while True:
        for context in bidi.call("browsingContext.getTree", {})["contexts"]:
            if CONSENT in context["url"] and context["context"] not in skip:
                return str(context["context"])
        if time.monotonic() > deadline:
            raise AssertionError("no consent window opened in Firefox")
        time.sleep(0.05)


def firefox_consent_state(bidi: FirefoxBidi, context: str, state: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while True:
        with contextlib.suppress(BrowserError):
            seen = bidi.evaluate(context, "document.body?.dataset.state ?? null")
        if seen == state:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the consent window stayed {seen!r}, never {state!r}")
        time.sleep(0.05)


def firefox_click(bidi: FirefoxBidi, context: str, selector: str) -> None:
    """A trusted click on the middle of ``selector`` in ``context``."""
    x, y = bidi.evaluate(context, f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                                  ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    bidi.click(context, x, y)


def firefox_confirm(bidi: FirefoxBidi, *, allow_attestation: bool = False, skip: tuple[str, ...] = ()) -> str:
    """Confirm the pending request in Firefox's consent window with a real click once it is armed; returns its
    browsing context."""
    context = firefox_consent_window(bidi, skip=skip)
    firefox_consent_state(bidi, context, "armed")
    if allow_attestation:
        firefox_click(bidi, context, "#allow-attestation")
    firefox_click(bidi, context, "#confirm")
    return context


def firefox_enter_pin(bidi: FirefoxBidi, context: str, pin: str) -> None:
    """Type ``pin`` into Firefox's consent window (a trusted click on its PIN field, then keys) and send it."""
    firefox_consent_state(bidi, context, "pin")
    firefox_click(bidi, context, "#pin")
    bidi.type_text(context, pin + "\ue007")  # Enter submits the form
