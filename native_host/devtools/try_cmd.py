"""``tracker2fa try URL``: a real browser on a throwaway profile with the extension loaded and the host
registered for that profile, opened on URL (for example the mock tracker). Nothing touches your real
browser profiles; the vault is yours (or ``--vault PATH``).

A developer tool, plugged into ``tracker2fa`` by the ``try`` entry point with the ``devtools`` extra
(Playwright, websockets), which ``install.py`` installs. The browser is started by the test kit
(:mod:`.kit`), so ``try`` and a tracker developer's tests set up the same way. Playwright is imported only
when Chromium starts: this module is loaded to build ``tracker2fa --help``.

It ends in one line, never a traceback: no display (it runs headless and says so), nothing listening at URL,
a browser that does not start, a page that does not load.
"""

from __future__ import annotations

import argparse
import importlib
import os
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import BadRequest
from ..vault import default_vault_path

MOCK_LOGIN = {"username": "#login-username", "password": "#login-password", "submit": "#login-submit"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``try`` sub-command."""
    parser = subparsers.add_parser(
        "try",
        help="open URL in a throwaway browser profile with the extension and host set up",
        description="Start Chromium (Playwright) or Firefox ESR (WebDriver BiDi) on a throwaway profile with the "
        "tracker2fa extension loaded and the native host registered for that profile, and open URL. With "
        "$TRACKER2FA_VIRTUAL_KEY set, the host has the virtual key and security keys are on for URL's origin.",
    )
    parser.add_argument("url", help="the page to open, e.g. http://localhost:8080/login from `tracker2fa mock`")
    parser.add_argument("--browser", choices=("chromium", "firefox"), default="chromium")
    parser.add_argument("--vault", type=Path, metavar="PATH", help="the vault the host opens (default: yours)")
    parser.add_argument("--headless", action="store_true",
                        help="no window (for scripts and CI; chosen by itself when there is no display)")
    parser.add_argument(
        "--seconds", type=float, metavar="N", help="close after N seconds (default: when you close the browser)"
    )
    parser.add_argument("--screenshot", type=Path, metavar="FILE", help="save a PNG of the page once it has loaded")
    login = parser.add_argument_group(
        "logging in", "--login fills the page's login form and submits it, so the browser lands on the "
        "second-factor page. The selectors default to the mock tracker's; give your tracker's for another one "
        "(or script it with the test kit: docs/developer-guide.md, \"The test kit\").")
    login.add_argument("--login", metavar="USER:PASSWORD",
                       help="log in as USER (demo credentials: the command line is visible to other local users)")
    login.add_argument("--username-field", metavar="CSS", default=MOCK_LOGIN["username"],
                       help=f"the user name input (default {MOCK_LOGIN['username']})")
    login.add_argument("--password-field", metavar="CSS", default=MOCK_LOGIN["password"],
                       help=f"the password input (default {MOCK_LOGIN['password']})")
    login.add_argument("--submit", metavar="CSS", default=MOCK_LOGIN["submit"],
                       help=f"the button that submits the form (default {MOCK_LOGIN['submit']})")
    parser.set_defaults(handler=run)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"not an http(s) URL: {url!r}")
    try:
        parts.port  # noqa: B018 (a port out of range or not a number raises here)
    except ValueError as exc:
        raise BadRequest(f"not a valid URL: {url!r} ({exc})") from None
    return url


def _parse_login(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise BadRequest(f"--login wants USER:PASSWORD (e.g. alice:alice-demo-pass), got {value!r}")
    return user, password


def check_reachable(url: str, timeout: float = 5) -> None:
    """One TCP connection to URL's host and port before any browser starts: a BadRequest that says so when
    nothing answers there (with the command to start the mock when the URL is on this machine)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"{parts.scheme}://{parts.netloc}"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except socket.gaierror:
        raise BadRequest(f"cannot find the host {host!r} of {url} (is the name right?)") from None
    except TimeoutError:
        raise BadRequest(f"nothing answers at {where} within {timeout:g} s (is the tracker up, and the URL right?)") \
            from None
    except OSError as exc:
        local = host in ("localhost", "::1") or host.endswith(".localhost") or host.startswith("127.")
        hint = (f"is `tracker2fa mock` running? Start it with `tracker2fa mock --port {port}`" if local
                else "is the tracker up, and the URL right?")
        raise BadRequest(f"nothing answers at {where} ({exc.strerror or exc}) — {hint}") from None


# What drives each browser (the devtools extra). Imported before anything is set up, so that without the extra
# the CLI core's message naming it is all that happens.
DRIVERS = {"chromium": "playwright.sync_api", "firefox": "websockets.sync.client"}


def run(args: argparse.Namespace) -> int:
    """Handler: check what can be checked, start the browser on a throwaway profile, wait, clean up."""
    url = _check_url(args.url)
    login = _parse_login(args.login)
    importlib.import_module(DRIVERS[args.browser])
    vault = (args.vault or default_vault_path()).expanduser().resolve()  # resolved before HOME changes
    from . import browsers  # lazily, like Playwright: this module is loaded to build `tracker2fa --help`

    check_reachable(url)
    headless = args.headless
    if not headless and not browsers.has_display():
        headless = True
        print("tracker2fa try: no display ($DISPLAY and $WAYLAND_DISPLAY are unset): running headless", file=sys.stderr)
    try:
        return _run(args, url, vault, headless, login)
    except browsers.BrowserError as exc:
        hint = "; pass --headless" if not headless and "display" in str(exc).lower() else ""
        raise BadRequest(f"{args.browser}: {_first_line(exc)}{hint}") from None
    except Exception as exc:  # Playwright's own errors: one line, never its call log
        if type(exc).__module__.startswith("playwright"):
            raise BadRequest(f"{args.browser}: {_playwright_problem(exc, headless)}") from None
        raise


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _playwright_problem(exc: BaseException, headless: bool) -> str:
    text = str(exc)
    if not headless and ("Missing X server" in text or "cannot open display" in text.lower()):
        return f"cannot open a window on DISPLAY={os.environ.get('DISPLAY', '')!r}: pass --headless"
    if "net::ERR_" in text:
        code = text.split("net::", 1)[1].split()[0]
        return f"the page did not load ({code}); is the tracker up, and the URL right?"
    return _first_line(exc).removeprefix("Error: ")


def _virtual_key() -> Path | None:
    """The developer's virtual key, if they set one: it reaches the host the throwaway browser starts (the
    profile's environment drops every other TRACKER2FA_ variable of the shell). Resolved before HOME changes."""
    path = os.environ.get("TRACKER2FA_VIRTUAL_KEY")
    return Path(path).expanduser().resolve() if path else None


def _how_it_ends(args: argparse.Namespace, headless: bool) -> str:
    """What ends the session, as the user should read it: a timer, Ctrl-C (no window), or closing the window."""
    if args.seconds is not None:
        return f"closing after {args.seconds:g} s"
    return "press Ctrl-C to finish" if headless else "close the window to finish"


def _wait(args: argparse.Namespace, alive: object) -> None:
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while (deadline is None or time.monotonic() < deadline) and alive():  # type: ignore[operator]
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass


def _say(text: str) -> None:
    print(f"tracker2fa try: {text}", file=sys.stderr)


def _run(args: argparse.Namespace, url: str, vault: Path, headless: bool, login: tuple[str, str] | None) -> int:
    from . import browsers, kit

    key = _virtual_key()
    origins = [kit.origin_of(url)] if key else []
    auto = os.environ.get("TRACKER2FA_VIRTUAL_KEY_AUTO_CONFIRM") == "1"
    with browsers.throwaway_dir() as root, kit.launch(args.browser, vault=vault, virtual_key=key or False,
                                                      auto_confirm=auto, security_key_origins=origins,
                                                      headless=headless, root=root) as session:
        _say(f"extension {'loaded' if args.browser == 'chromium' else 'installed'} ({session.extension_id})")
        if args.browser == "chromium":
            _say(_chromium_host_answer(session))
        if origins:
            _say(f"security keys on for {origins[0]} (the virtual key {key}"
                 f"{', confirming by itself' if auto else ''})")
        tab = session.new_tab()
        if args.browser == "chromium":
            for blank in session.context.pages[:-1]:  # the start-up tab, opened before the extension was ready
                blank.close()
        tab.goto(url)
        if login:
            before = tab.url
            tab.log_in(*login, username_field=args.username_field, password_field=args.password_field,
                       submit=args.submit)
            tab.wait_until(f"location.href !== {before!r} && document.readyState === 'complete'", timeout=15)
            _say(f"logged in as {login[0]}; now at {tab.url}")
        if origins and kit.origin_of(tab.url) == origins[0]:
            bridged = tab.evaluate("typeof window.u2f === 'object'")  # the bridge's U2F polyfill: ours, or absent
            _say("this page's security-key requests go to tracker2fa" if bridged
                 else "the security-key bridge is not in this page (yet): reload it")
        found = _wait_for_control(tab)
        if found:
            _say("second-factor field detected (inline fill control shown)")
            if args.browser == "firefox":
                _say(f"the fill control, clicked, says: {_clicked_control_says(tab)}")
        else:
            _say("no second-factor field detected on this page (yet)")
        if args.screenshot:
            tab.screenshot(str(args.screenshot))
        _say(f"opened {tab.url if login else url} in {args.browser.capitalize()}; {_how_it_ends(args, headless)}")
        if args.browser == "chromium":
            closed: list[bool] = []
            session.context.on("close", lambda _ctx: closed.append(True))
            _wait(args, lambda: not closed and bool(session.context.pages))
        else:
            _wait(args, lambda: session.bidi.process.poll() is None)
    return 0


def _chromium_host_answer(session: object) -> str:
    """The host's version and vault status, asked from the extension's service worker."""
    from . import browsers

    worker = browsers.chromium_service_worker(session.context)  # type: ignore[attr-defined]
    return str(worker.evaluate(
        "(async (host) => { const r = await host.request('hello', {});"
        " const s = await host.request('vault.status', {});"
        " return `host ${r.version}, vault ${s.exists ? (s.unlocked ? 'unlocked' : 'locked') : 'missing'}`; })"
        "(globalThis.tracker2fa.host).catch((e) => e.message)"
    ))


CONTROL = "document.querySelector('[data-tracker2fa-fill]')"


def _wait_for_control(tab: object, timeout: float = 5) -> bool:
    from .tabs import KitError

    try:
        tab.wait_until(f"{CONTROL} !== null", timeout=timeout)  # type: ignore[attr-defined]
    except KitError:
        return False
    return True


def _clicked_control_says(tab: object) -> str:
    """What the host answers, seen on the page: BiDi cannot reach Firefox's extension background, so a trusted
    click on the inline control makes the extension ask the host, and the control shows the answer (a host
    started for this profile is locked, so nothing is filled; the page then shows the "Unlock" offer)."""
    from .tabs import KitError, _center

    tab._click_at(*tab.wait_until(_center(CONTROL)))  # type: ignore[attr-defined]
    try:
        state, message = tab.wait_until(  # type: ignore[attr-defined]
            f"(() => {{ const c = {CONTROL}; const s = c.dataset.tracker2faState; if (s === 'idle' || s === 'busy') "
            "return null; return [s, c.shadowRoot.querySelector('.panel').firstChild?.data]; })()", timeout=10)
    except KitError:
        return "no answer within 10 s"
    return f"{state}: {message}"
