"""``tracker2fa try URL``: a real browser on a throwaway profile with the extension loaded and the host
registered for that profile, opened on URL (for example the mock tracker). Nothing touches your real
browser profiles; the vault is yours (or ``--vault PATH``).

A developer tool, plugged into ``tracker2fa`` by the ``try`` entry point with the ``devtools`` extra
(Playwright, websockets), which ``install.py`` installs. Playwright is imported only when Chromium starts:
this module is loaded to build ``tracker2fa --help``."""

from __future__ import annotations

import argparse
import base64
import importlib
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import BadRequest
from ..vault import default_vault_path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``try`` sub-command."""
    parser = subparsers.add_parser(
        "try",
        help="open URL in a throwaway browser profile with the extension and host set up",
        description="Start Chromium (Playwright) or Firefox ESR (WebDriver BiDi) on a throwaway profile with the "
        "tracker2fa extension loaded and the native host registered for that profile, and open URL.",
    )
    parser.add_argument("url", help="the page to open, e.g. http://localhost:8080/login from `tracker2fa mock`")
    parser.add_argument("--browser", choices=("chromium", "firefox"), default="chromium")
    parser.add_argument("--vault", type=Path, metavar="PATH", help="the vault the host opens (default: yours)")
    parser.add_argument("--headless", action="store_true", help="no window (for scripts and CI)")
    parser.add_argument(
        "--seconds", type=float, metavar="N", help="close after N seconds (default: when you close the browser)"
    )
    parser.add_argument("--screenshot", type=Path, metavar="FILE", help="save a PNG of the page once it has loaded")
    parser.set_defaults(handler=run)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"not an http(s) URL: {url!r}")
    return url


# What drives each browser (the devtools extra). Imported before anything is set up, so that without the extra
# the CLI core's message naming it is all that happens.
DRIVERS = {"chromium": "playwright.sync_api", "firefox": "websockets.sync.client"}


def run(args: argparse.Namespace) -> int:
    """Handler: set up the throwaway profile, start the browser, wait, clean up."""
    url = _check_url(args.url)
    importlib.import_module(DRIVERS[args.browser])
    vault = (args.vault or default_vault_path()).expanduser().resolve()  # resolved before HOME changes
    from . import browsers  # lazily, like Playwright: this module is loaded to build `tracker2fa --help`

    with browsers.throwaway_dir() as root:
        home = root / "home"
        home.mkdir()
        env = browsers.profile_env(home, vault=vault, extra=_virtual_key_env())
        if args.browser == "chromium":
            return _run_chromium(browsers, root, env, url, args)
        return _run_firefox(browsers, root, env, url, args)


def _virtual_key_env() -> dict[str, str]:
    """The developer's virtual key, if they set one, reaches the host the throwaway browser starts (the
    profile's environment drops every other TRACKER2FA_ variable of the shell)."""
    path = os.environ.get("TRACKER2FA_VIRTUAL_KEY")
    return {"TRACKER2FA_VIRTUAL_KEY": str(Path(path).expanduser().resolve())} if path else {}


def _how_it_ends(args: argparse.Namespace) -> str:
    """What ends the session, as the user should read it: a timer, Ctrl-C (no window), or closing the window."""
    if args.seconds is not None:
        return f"closing after {args.seconds:g} s"
    return "press Ctrl-C to finish" if args.headless else "close the window to finish"


def _wait(args: argparse.Namespace, alive: object) -> None:
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while (deadline is None or time.monotonic() < deadline) and alive():  # type: ignore[operator]
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass


def _run_chromium(browsers: object, root: Path, env: dict[str, str], url: str, args: argparse.Namespace) -> int:
    from playwright.sync_api import sync_playwright

    b = browsers  # the devtools.browsers module
    profile = root / "profile"
    profile.mkdir()
    b.register_host("chromium", env, user_data_dir=profile)  # type: ignore[attr-defined]
    with sync_playwright() as playwright:
        context = b.launch_chromium(playwright, profile, env, headless=args.headless)  # type: ignore[attr-defined]
        worker = b.chromium_service_worker(context)  # type: ignore[attr-defined]
        print(f"tracker2fa try: extension loaded ({worker.url.split('/')[2]})", file=sys.stderr)
        hello = worker.evaluate(
            "(async (host) => { const r = await host.request('hello', {});"
            " const s = await host.request('vault.status', {});"
            " return `host ${r.version}, vault ${s.exists ? (s.unlocked ? 'unlocked' : 'locked') : 'missing'}`; })"
            "(globalThis.tracker2fa.host).catch((e) => e.message)"
        )
        print(f"tracker2fa try: {hello}", file=sys.stderr)
        page = context.new_page()
        for blank in context.pages[:-1]:  # the start-up tab, opened before the extension was ready
            blank.close()
        page.goto(url)
        try:
            page.wait_for_selector("[data-tracker2fa-fill]", timeout=5000)
            print("tracker2fa try: second-factor field detected (inline fill control shown)", file=sys.stderr)
        except Exception:  # Playwright's TimeoutError: a page without a code field is fine too
            print("tracker2fa try: no second-factor field detected on this page (yet)", file=sys.stderr)
        if args.screenshot:
            page.screenshot(path=str(args.screenshot))
        print(f"tracker2fa try: opened {url} in Chromium; {_how_it_ends(args)}", file=sys.stderr)
        closed: list[bool] = []
        context.on("close", lambda _ctx: closed.append(True))
        _wait(args, lambda: not closed and bool(context.pages))
        if not closed:
            context.close()
    return 0


def _run_firefox(browsers: object, root: Path, env: dict[str, str], url: str, args: argparse.Namespace) -> int:
    b = browsers
    b.register_host("firefox", env)  # type: ignore[attr-defined]
    firefox = b.FirefoxBidi.start(root / "profile", env, headless=args.headless)  # type: ignore[attr-defined]
    try:
        addon = firefox.install_extension()
        print(f"tracker2fa try: extension installed ({addon})", file=sys.stderr)
        tree = firefox.call("browsingContext.getTree", {})
        context = tree["contexts"][0]["context"]
        firefox.navigate(context, url)
        deadline = time.monotonic() + 5
        found = False
        while not found and time.monotonic() < deadline:
            found = bool(firefox.evaluate(context, "document.querySelector('[data-tracker2fa-fill]') !== null"))
            time.sleep(0.1)
        if found:
            print("tracker2fa try: second-factor field detected (inline fill control shown)", file=sys.stderr)
            print(f"tracker2fa try: the fill control, clicked, says: {_firefox_host_answer(firefox, context)}",
                  file=sys.stderr)
        else:
            print("tracker2fa try: no second-factor field detected on this page (yet)", file=sys.stderr)
        if args.screenshot:
            shot = firefox.call("browsingContext.captureScreenshot", {"context": context})
            args.screenshot.write_bytes(base64.b64decode(shot["data"]))
        print(f"tracker2fa try: opened {url} in Firefox; {_how_it_ends(args)}", file=sys.stderr)
        _wait(args, lambda: firefox.process.poll() is None)
    finally:
        firefox.close()
    return 0


def _firefox_host_answer(firefox: object, context: str) -> str:
    """What the host answers, seen on the page: BiDi cannot reach Firefox's extension background, so a trusted
    click on the inline control makes the extension ask the host, and the control shows the answer (a host
    started for this profile is locked, so nothing is filled; the page then shows the "Unlock" offer)."""
    control = "document.querySelector('[data-tracker2fa-fill]')"
    x, y = firefox.evaluate(  # type: ignore[attr-defined]
        context,
        f"(() => {{ const r = {control}.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
    )
    firefox.click(context, x, y)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state, message = firefox.evaluate(  # type: ignore[attr-defined]
            context,
            f"[{control}.dataset.tracker2faState, {control}.shadowRoot.querySelector('.panel').firstChild?.data]",
        )
        if state not in ("idle", "busy"):
            return f"{state}: {message}"
        time.sleep(0.1)
    return "no answer within 10 s"
