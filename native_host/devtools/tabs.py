"""One browser tab of the test kit, the same for Chromium (Playwright) and Firefox (WebDriver BiDi).

A :class:`Tab` opens pages, fills and clicks as a user does (trusted input), and clicks the extension's inline
fill control: :meth:`Tab.fill_code` is the whole user path, including unlocking the vault through the
control's *Unlock the vault…* button and the popup it opens. The inline control's contract
(``data-tracker2fa-fill``, ``data-tracker2fa-state``, the shadow root's ``.panel`` and buttons) is in
docs/developer-guide.md.

Only the top frame of a tab is driven: for a code field inside a frame, use the engine below
(:attr:`ChromiumTab.page`, :attr:`FirefoxTab.bidi`).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from .browsers import BrowserError, FirefoxBidi

if TYPE_CHECKING:
    from .kit import Session

# The mock tracker's login form (docs/mock-tracker.md); another tracker passes its own selectors.
MOCK_LOGIN = {"username": "#login-username", "password": "#login-password", "submit": "#login-submit"}
_CONTROL = "document.querySelector('[data-tracker2fa-fill={kind}]')"


class KitError(BrowserError):
    """Something the test kit was asked to do did not happen (with what the page or the extension said)."""


def _center(element: str) -> str:
    """An expression: the viewport centre of ``element`` (an expression), scrolled into view; null if absent."""
    return (f"(() => {{ const e = {element}; if (!e) return null; e.scrollIntoView({{block: 'center'}}); "
            "const r = e.getBoundingClientRect(); if (!r.width && !r.height) return null; "
            "return [r.x + r.width / 2, r.y + r.height / 2]; })()")


class Tab:
    """A tab of a :class:`~native_host.devtools.kit.Session`. Subclasses supply the engine's primitives."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ---- the engine's primitives -----------------------------------------------------------------------------

    def goto(self, url: str) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        raise NotImplementedError

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited if a promise) in the page, as JSON gives it."""
        raise NotImplementedError

    def _evaluate_quietly(self, expression: str) -> Any:
        """:meth:`evaluate`, or None while the page is between documents (a form was just submitted)."""
        raise NotImplementedError

    def _click_at(self, x: float, y: float) -> None:
        raise NotImplementedError

    def _type(self, text: str, *, enter: bool = False) -> None:
        """Trusted key presses into the focused element (then Enter)."""
        raise NotImplementedError

    def screenshot(self, path: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # ---- what a user does ----------------------------------------------------------------------------------

    def wait_until(self, expression: str, timeout: float = 15) -> Any:
        """Poll ``expression`` until it is truthy; returns its value. KitError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = self._evaluate_quietly(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise KitError(f"timed out after {timeout:g} s waiting for {expression} on {self.url}")
            time.sleep(0.1)

    def wait_for(self, selector: str, timeout: float = 15) -> None:
        """Wait until ``selector`` matches an element of the page."""
        self.wait_until(f"document.querySelector({json.dumps(selector)}) !== null", timeout)

    def click(self, selector: str, timeout: float = 15) -> None:
        """A trusted click in the middle of ``selector`` (waits for it to be laid out)."""
        x, y = self.wait_until(_center(f"document.querySelector({json.dumps(selector)})"), timeout)
        self._click_at(x, y)

    def fill(self, selector: str, text: str, timeout: float = 15) -> None:
        """Replace the value of the input ``selector`` with ``text``, typed with trusted key presses."""
        self.wait_for(selector, timeout)
        self.evaluate(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.focus(); "
                      "e.select?.(); return true; })()")
        self._type(text)

    def text(self, selector: str) -> str:
        return str(self.evaluate(f"document.querySelector({json.dumps(selector)})?.textContent ?? ''"))

    def value(self, selector: str) -> str:
        return str(self.evaluate(f"document.querySelector({json.dumps(selector)})?.value ?? ''"))

    def log_in(self, username: str, password: str, *, username_field: str = MOCK_LOGIN["username"],
               password_field: str = MOCK_LOGIN["password"], submit: str = MOCK_LOGIN["submit"]) -> None:
        """Fill a login form and submit it (the mock tracker's selectors unless others are given)."""
        self.fill(username_field, username)
        self.fill(password_field, password)
        self.click(submit)

    def fill_code(self, field: str | None = None, *, account: str | None = None, backup: bool = False,
                  timeout: float = 45) -> str | None:
        """Click the extension's inline control on the page's code field (or backup-code field) as a user does,
        unlock the vault through the control's *Unlock* button if it is locked, pick ``account`` (its label,
        ``issuer:account``) when several are bound to the site, and wait until the code is filled. Returns the
        value of ``field`` (a selector) when given. KitError with the control's message when it refuses.

        A code just given to this site waits for the next one (up to 30 s: the host gives each step's code to a
        site once), as the control does for a user.
        """
        control = _CONTROL.format(kind="backup" if backup else "code")
        self._click_control(control, timeout)
        deadline = time.monotonic() + timeout
        unlocked = False
        while True:
            state, message, choices = self.wait_until(
                f"(() => {{ const c = {control}; if (!c) return null; const s = c.dataset.tracker2faState; "
                "if (s === 'idle' || s === 'busy') return null; "
                "const p = c.shadowRoot.querySelector('.panel'); "
                "return [s, p.firstChild?.textContent ?? '', [...p.querySelectorAll('[data-entry-id]')]"
                ".map((b) => b.textContent)]; })()", max(1.0, deadline - time.monotonic()))
            if state == "filled":
                break
            if state == "waiting":  # the code just used: the control fills the next one by itself
                time.sleep(0.5)
                continue
            if state == "error" and not unlocked and self._evaluate_quietly(
                    f"{control}.shadowRoot.querySelector('[data-action=unlock]') !== null"):
                self._unlock(control)
                unlocked = True
                self._click_control(control, timeout)
                continue
            if state == "choose":
                if account is None or account not in choices:
                    raise KitError(f"several accounts are bound to this site ({', '.join(choices)}): "
                                   "pass account=LABEL")
                index = choices.index(account)
                x, y = self.wait_until(_center(
                    f"{control}.shadowRoot.querySelectorAll('[data-entry-id]')[{index}]"))
                self._click_at(x, y)
                continue
            raise KitError(f"the fill control says ({state}): {message}")
        return self.value(field) if field else None

    def _click_control(self, control: str, timeout: float) -> None:
        x, y = self.wait_until(_center(control), timeout)
        self._click_at(x, y)

    def _unlock(self, control: str) -> None:
        """Unlock the vault the control said is locked."""
        self._unlock_from_the_control(control)

    def _unlock_from_the_control(self, control: str) -> None:
        """The control's *Unlock the vault…* button opens the popup in a tab; type the password there, Enter.
        The popup returns to this tab and closes itself."""
        if self.session.password is None:
            raise KitError("the vault is locked and is not the kit's: its owner unlocks it (the popup)")
        x, y = self.wait_until(_center(f"{control}.shadowRoot.querySelector('[data-action=unlock]')"))
        self._click_at(x, y)
        popup = self.session.extension_tab("popup/popup.html")
        popup.wait_until("document.body?.dataset.vault === 'locked'")
        popup.evaluate("document.querySelector('input[type=password]').focus() || true")
        popup._type(self.session.password, enter=True)
        deadline = time.monotonic() + 30
        while not popup.closed():
            if time.monotonic() > deadline:
                raise KitError(f"the vault did not unlock: {popup.text('#unlock-error')}")
            time.sleep(0.1)
        self._activate()

    def _activate(self) -> None:
        """Bring this tab to the front (after the popup's tab closed)."""

    def closed(self) -> bool:
        raise NotImplementedError


class ChromiumTab(Tab):
    """A Playwright page. ``page`` is Playwright's own object, for anything the kit does not cover."""

    def __init__(self, session: Session, page: Any) -> None:
        super().__init__(session)
        self.page = page

    def goto(self, url: str) -> None:
        self.page.goto(url)

    @property
    def url(self) -> str:
        return str(self.page.url)

    def evaluate(self, expression: str) -> Any:
        return self.page.evaluate(f"(async () => ({expression}))()")

    def _evaluate_quietly(self, expression: str) -> Any:
        from playwright.sync_api import Error as PlaywrightError

        try:
            return self.evaluate(expression)
        except PlaywrightError as exc:  # "Execution context was destroyed": the page is navigating
            if self.page.is_closed():
                raise KitError(f"the tab closed: {exc}") from None
            return None

    def _click_at(self, x: float, y: float) -> None:
        self.page.mouse.click(x, y)

    def _type(self, text: str, *, enter: bool = False) -> None:
        self.page.keyboard.type(text)
        if enter:
            self.page.keyboard.press("Enter")

    def screenshot(self, path: str) -> None:
        self.page.screenshot(path=path)

    def closed(self) -> bool:
        return bool(self.page.is_closed())

    def close(self) -> None:
        if not self.page.is_closed():
            self.page.close()

    def _activate(self) -> None:
        self.page.bring_to_front()

    def _unlock(self, control: str) -> None:
        # Playwright does not always report a tab the extension opens (the Unlock button's popup tab), so in
        # Chromium the vault is unlocked the way the popup does it: vault.unlock from the extension's service
        # worker to the host. The page path is the one Firefox takes (FirefoxTab).
        self.session.unlock()


class FirefoxTab(Tab):
    """A top-level browsing context of Firefox over WebDriver BiDi (``bidi``, ``context``: the raw handles)."""

    def __init__(self, session: Session, bidi: FirefoxBidi, context: str) -> None:
        super().__init__(session)
        self.bidi = bidi
        self.context = context

    def goto(self, url: str) -> None:
        self.bidi.navigate(self.context, url)
        self.session._await_bridge(self, url)

    @property
    def url(self) -> str:
        for context in self.bidi.call("browsingContext.getTree", {})["contexts"]:
            if context["context"] == self.context:
                return str(context["url"])
        return ""

    def evaluate(self, expression: str) -> Any:
        return self.bidi.evaluate(self.context, expression)

    def _evaluate_quietly(self, expression: str) -> Any:
        try:
            return self.evaluate(expression)
        except BrowserError:
            if self.closed():
                raise KitError("the tab closed") from None
            return None

    def _click_at(self, x: float, y: float) -> None:
        self.bidi.click(self.context, x, y)

    def _type(self, text: str, *, enter: bool = False) -> None:
        self.bidi.type_text(self.context, text + ("\ue007" if enter else ""))

    def screenshot(self, path: str) -> None:
        import base64
        from pathlib import Path

        shot = self.bidi.call("browsingContext.captureScreenshot", {"context": self.context})
        Path(path).write_bytes(base64.b64decode(shot["data"]))

    def closed(self) -> bool:
        return all(c["context"] != self.context for c in self.bidi.call("browsingContext.getTree", {})["contexts"])

    def close(self) -> None:
        if not self.closed():
            self.bidi.call("browsingContext.close", {"context": self.context})

    def _activate(self) -> None:
        self.bidi.call("browsingContext.activate", {"context": self.context})
