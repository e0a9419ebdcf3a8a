"""The test kit for tracker developers: a real browser with the tracker2fa extension and native host, on a
throwaway profile, with a throwaway vault holding the accounts you give, bound to the origins you give.

    from native_host.devtools.kit import Account, launch

    with launch("firefox", accounts=[Account(uri, ["https://jira.test"])], virtual_key=True,
                security_key_origins=["https://jira.test"]) as browser:
        tab = browser.new_tab("https://jira.test/login")
        tab.log_in("alice", "secret", username_field="#username", password_field="#password", submit="#login")
        tab.fill_code("#otp")          # the extension's inline control, as a user clicks it

With pytest, the plugin (:mod:`.pytest_plugin`, loaded by itself once the ``devtools`` extra is installed) gives
the same as fixtures: ``tracker2fa_launch``, ``tracker2fa_browser``, ``tracker2fa_mock``. docs/developer-guide.md
("The test kit") is the guide; ``examples/mock_tracker/`` a suite that uses it.

What it sets up, and why each part is real: the host is registered in the throwaway profile with ``tracker2fa
install`` (the browser starts the real ``tracker2fa-host``); HOME points into the throwaway folder, so nothing
touches your own profiles or vault; the vault is a real encrypted vault (cheapest KDF cost); the virtual key is
the host's software authenticator (``TRACKER2FA_VIRTUAL_KEY``), and with ``auto_confirm`` it confirms requests
by itself instead of the consent window (``TRACKER2FA_VIRTUAL_KEY_AUTO_CONFIRM=1``; never with a real key).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import browsers, consent
from .browsers import BrowserError
from .mock import MockTracker, run_mock
from .tabs import MOCK_LOGIN, ChromiumTab, FirefoxTab, KitError, Tab

__all__ = ["MOCK_LOGIN", "Account", "BrowserError", "KitError", "MockTracker", "Session", "Tab", "launch",
           "make_vault", "run_mock"]

# The throwaway vault's password (a throwaway vault with the cheapest KDF: it protects nothing).
KIT_PASSWORD = "tracker2fa test kit vault"
BROWSERS = ("chromium", "firefox")


@dataclass(frozen=True)
class Account:
    """One account in the throwaway vault: an ``otpauth://`` URI, the origins it is bound to (exactly, as
    ``tracker2fa vault add --origin`` binds them), and optionally the tracker's backup codes."""

    uri: str
    origins: Sequence[str] = ()
    backup_codes: Sequence[str] = ()


def make_vault(path: Path, accounts: Sequence[Account], password: str = KIT_PASSWORD) -> list[str]:
    """Create a vault at ``path`` holding ``accounts``; returns their labels. Origins are checked as a binding
    is (a typo is refused with the origin meant)."""
    from ..origins import bindable_origin
    from ..vault import VaultFile
    from ..vault.otpauth import parse_otpauth_uri

    vault = VaultFile(path).create(password, kdf_cost="minimum")
    labels = []
    try:
        for account in accounts:
            entry = parse_otpauth_uri(account.uri)
            entry.origins = [str(bindable_origin(o)) for o in account.origins]
            entry.backup_codes = [{"code": c, "used": False} for c in account.backup_codes]
            labels.append(vault.add(entry).label)
    finally:
        vault.lock()
    return labels


@dataclass
class Session:
    """A running browser of the kit. ``new_tab(url)`` opens a :class:`~.tabs.Tab`; ``confirm_security_key()``
    answers the consent window (when the virtual key does not confirm by itself). The engine is reachable for
    anything else: ``context`` (Chromium: Playwright's BrowserContext) or ``bidi`` (Firefox: the BiDi session)."""

    name: str
    root: Path
    home: Path
    vault: Path
    password: str | None  # the kit's vault's; None for a vault given to launch (its owner unlocks it)
    security_key_origins: tuple[str, ...]
    context: Any = None
    bidi: browsers.FirefoxBidi | None = None
    extension_id: str = ""
    _bridges_seen: set[str] = field(default_factory=set)
    _first_context: str | None = None

    def new_tab(self, url: str | None = None) -> Tab:
        """A new tab (the browser's first, empty one for Firefox's first call), on ``url`` if given."""
        tab: Tab
        if self.context is not None:
            tab = ChromiumTab(self, self.context.new_page())
        else:
            assert self.bidi is not None
            if self._first_context is not None:
                context, self._first_context = self._first_context, None
            else:
                context = self.bidi.new_tab()
            tab = FirefoxTab(self, self.bidi, context)
        if url is not None:
            tab.goto(url)
        return tab

    def extension_tab(self, path: str, timeout: float = 15) -> Tab:
        """The tab the extension opened on its page ``path`` (e.g. ``popup/popup.html``), once it is there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.context is not None:
                url = browsers.chromium_extension_url(path)
                for page in self.context.pages:
                    if page.url.startswith(url) and not page.is_closed():
                        page.wait_for_load_state()
                        return ChromiumTab(self, page)
            else:
                assert self.bidi is not None
                url = browsers.firefox_extension_url(path)
                for context in self.bidi.call("browsingContext.getTree", {})["contexts"]:
                    if context["url"].startswith(url):
                        return FirefoxTab(self, self.bidi, context["context"])
            time.sleep(0.1)
        raise KitError(f"the extension did not open {path}")

    def unlock(self) -> None:
        """Unlock the vault now (Chromium only: from the extension's service worker, as the popup does; in
        Firefox :meth:`~.tabs.Tab.fill_code` unlocks through the page's *Unlock* button when it has to)."""
        if self.context is None:
            raise KitError("unlock() needs Chromium; in Firefox fill_code() unlocks through the page")
        if self.password is None:
            raise KitError("this vault is not the kit's: its owner unlocks it (the popup)")
        worker = browsers.chromium_service_worker(self.context)
        worker.evaluate("(password) => globalThis.tracker2fa.host.request('vault.unlock', {password})", self.password)

    def confirm_security_key(self, *, allow_attestation: bool = False) -> None:
        """Confirm the pending security-key request in the extension's consent window, with a real click once
        its buttons are armed (not needed when the virtual key confirms by itself)."""
        if self.context is not None:
            consent.confirm(self.context, allow_attestation=allow_attestation)
        else:
            assert self.bidi is not None
            consent.firefox_confirm(self.bidi, allow_attestation=allow_attestation)

    def enter_pin(self, pin: str) -> None:
        """Type the key's PIN into the consent window once it asks (after :meth:`confirm_security_key`)."""
        if self.context is not None:
            consent.enter_pin(consent.consent_window(self.context), pin)
        else:
            assert self.bidi is not None
            consent.firefox_enter_pin(self.bidi, consent.firefox_consent_window(self.bidi), pin)

    def _await_bridge(self, tab: FirefoxTab, url: str) -> None:
        """Firefox registers the security-key bridge's scripts when its background starts, maybe after the
        first page: the first page of an enabled origin is reloaded until the bridge is in it."""
        origin = origin_of(url)
        if origin not in self.security_key_origins or origin in self._bridges_seen:
            return
        deadline = time.monotonic() + 30
        while not tab._evaluate_quietly("typeof window.u2f === 'object'"):
            if time.monotonic() > deadline:
                raise KitError(f"the security-key bridge never reached {origin} (is it a security-key origin?)")
            time.sleep(0.5)
            tab.bidi.navigate(tab.context, url)
        self._bridges_seen.add(origin)


def origin_of(url: str) -> str:
    """The origin of a URL as the browser writes it (what ``security_key_origins`` holds); "" for none."""
    from ..errors import InvalidOrigin
    from ..origins import normalize_origin

    try:
        return normalize_origin(url)
    except InvalidOrigin:
        return ""


@contextmanager
def launch(
    browser: str = "chromium",
    *,
    accounts: Sequence[Account] = (),
    virtual_key: bool | Path = False,
    auto_confirm: bool = True,
    security_key_origins: Sequence[str] = (),
    headless: bool = True,
    playwright: Any = None,
    root: Path | None = None,
    vault: Path | None = None,
) -> Iterator[Session]:
    """Start ``browser`` (``chromium`` or ``firefox``) with the extension and the host on a throwaway profile.

    ``accounts`` go into a new vault; ``virtual_key`` gives the host the software test key (``auto_confirm``: it
    confirms by itself, no consent window); ``security_key_origins`` are the trackers where the extension answers
    WebAuthn and ``window.u2f`` with the host's keys (Chromium: the user's option, set through the extension;
    Firefox: the admin's list, through per-user managed storage, since BiDi cannot reach the extension).
    ``virtual_key`` may also be the path of a key file to use (kept, with its registrations, across runs).
    ``playwright``: a running sync Playwright to use (else one is started for this session); ``root``: the folder
    to use instead of a new temporary one (kept afterwards); ``vault``: an existing vault to use instead of a new
    one (then ``accounts`` must be empty, and its password is yours). Everything is stopped, and a temporary
    folder removed, when the block ends.
    """
    if browser not in BROWSERS:
        raise KitError(f"browser must be one of {', '.join(BROWSERS)}, not {browser!r}")
    origins = tuple(str(_checked_origin(o)) for o in security_key_origins)
    with ExitStack() as stack:
        if root is None:
            root = stack.enter_context(browsers.throwaway_dir("tracker2fa-kit-"))
        home = root / "home"
        home.mkdir(parents=True, exist_ok=True)
        password: str | None = KIT_PASSWORD  # None: an existing vault, whose password is its owner's
        if vault is None:
            vault = root / "vault.json"
            make_vault(vault, accounts)
        elif accounts:
            raise KitError("give accounts for a new vault, or an existing vault, not both")
        else:
            password = None
        key_file = virtual_key if isinstance(virtual_key, Path) else root / "vkey.json"
        extra = browsers.virtual_key_extra(key_file, auto_confirm=auto_confirm) if virtual_key else {}
        env = browsers.profile_env(home, vault=vault, extra=extra)
        session = Session(browser, root, home, vault, password, origins)
        stack.callback(browsers.kill_hosts, home)
        if browser == "chromium":
            if playwright is None:
                from playwright.sync_api import sync_playwright

                playwright = stack.enter_context(sync_playwright())
            profile = root / "profile"
            profile.mkdir(exist_ok=True)
            browsers.register_host("chromium", env, user_data_dir=profile)
            session.context = browsers.launch_chromium(playwright, profile, env, headless=headless)
            stack.callback(session.context.close)
            worker = browsers.chromium_service_worker(session.context)
            session.extension_id = worker.url.split("/")[2]
            if origins:
                browsers.chromium_enable_security_keys(worker, list(origins))
        else:
            browsers.register_host("firefox", env)
            if origins:
                browsers.firefox_managed_storage(home, {"securityKeyTrackers": list(origins)})
            session.bidi = browsers.FirefoxBidi.start(root / "profile", env, headless=headless)
            stack.callback(session.bidi.close)
            session.extension_id = session.bidi.install_extension()
            session._first_context = str(session.bidi.call("browsingContext.getTree", {})["contexts"][0]["context"])
        yield session


def _checked_origin(origin: str) -> str:
    from ..origins import bindable_origin

    return str(bindable_origin(origin))
