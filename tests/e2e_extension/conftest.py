"""Fixtures for the extension's end-to-end tests: a loopback page server, vaults, real browsers with the
extension loaded and the real host registered in a throwaway profile."""

from __future__ import annotations

import contextlib
import http.server
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest

from native_host.devtools import browsers
from native_host.devtools.browsers import host_pids_for_home, kill_pid
from tests.support.shared import Shared

from .mock_tracker import MockTracker, running_mock

PAGES = Path(__file__).parent / "pages"
REPO = Path(__file__).resolve().parents[2]
DOCS_IMG = REPO / "docs" / "img"
PASSWORD = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# Page paths as the server answers them; the Jira-app page sits where such apps put it.
ROUTES = {"/plugins/servlet/twofactor/verify": "jira_app.html"}


# ---- the page server -------------------------------------------------------------------------------------


@dataclass
class PageServer:
    port: int
    extra: dict[str, str] = field(default_factory=dict)  # path -> HTML, added by tests (e.g. a QR page)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # path -> extra response headers

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def origin(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"


def _handler(server_state: PageServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            body: bytes | None = None
            if path in server_state.extra:
                body = server_state.extra[path].encode()
            elif path in ROUTES:
                body = (PAGES / ROUTES[path]).read_bytes()
            elif path.startswith("/pages/") and "/" not in path[len("/pages/") :]:
                candidate = PAGES / path[len("/pages/") :]
                if candidate.is_file():
                    body = candidate.read_bytes()
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in server_state.headers.get(path, {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    return Handler


@contextlib.contextmanager
def serve_pages() -> Iterator[PageServer]:
    """Serve the test pages on 127.0.0.1 (also reachable as localhost) on a free port."""
    state = PageServer(port=0)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="session")
def pages() -> Iterator[PageServer]:
    with serve_pages() as server:
        yield server


@pytest.fixture(scope="session")
def other_pages() -> Iterator[PageServer]:
    """The same pages on a second port: a second origin."""
    with serve_pages() as server:
        yield server


# ---- vaults ----------------------------------------------------------------------------------------------


def vault_api() -> Any:
    """The vault package (a missing vault is a failure, never a skip)."""
    from native_host import vault

    return vault


def make_vault(path: Path, entries: list[dict[str, Any]]) -> dict[str, str]:
    """Create a vault at ``path`` with ``entries`` (Entry fields); returns {label: entry id}."""
    vault = vault_api()
    from native_host.vault.entry import Entry

    unlocked = vault.VaultFile(path).create(PASSWORD, kdf_cost="minimum")
    ids = {}
    for fields in entries:
        entry = unlocked.add(Entry(**fields))
        ids[entry.label] = entry.id
    unlocked.lock()
    return ids


def add_entry(path: Path, **fields: Any) -> str:
    """Add one entry to an existing vault (as another process would); returns its id."""
    vault = vault_api()
    from native_host.vault.entry import Entry

    unlocked = vault.VaultFile(path).unlock(PASSWORD)
    try:
        return unlocked.add(Entry(**fields)).id
    finally:
        unlocked.lock()


def valid_codes(secret: str = SECRET) -> set[str]:
    """The codes of the previous, current and next period (a fill may straddle a boundary)."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    return {totp.at(now + delta) for delta in (-30, 0, 30)}


# ---- Chromium ---------------------------------------------------------------------------------------------


@dataclass
class Chromium:
    """A running Chromium with the extension, its throwaway HOME and profile, and the vault it uses."""

    context: Any
    home: Path
    user_data_dir: Path
    vault: Path

    @property
    def worker(self) -> Any:
        return browsers.chromium_service_worker(self.context)

    def background(self, expression: str) -> Any:
        """Evaluate an async expression in the service worker (``host`` is the HostConnection)."""
        script = f"(async () => {{ const host = globalThis.tracker2fa.host; return {expression}; }})()"
        return self.worker.evaluate(script)

    def host_request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        import json

        return self.background(f"host.request({json.dumps(method)}, {json.dumps(params or {})})")

    def unlock(self) -> None:
        self.host_request("vault.unlock", {"password": PASSWORD})

    def lock(self) -> None:
        self.host_request("vault.lock")

    def open(self, url: str) -> Any:
        page = self.context.new_page()
        page.goto(url)
        return page

    def popup(self, tab_page: Any | None = None) -> Any:
        """The popup opened in a tab, for the tab showing ``tab_page`` (or none)."""
        query = ""
        if tab_page is not None:
            tab_id = self.tab_id(tab_page)
            query = f"?tab={tab_id}"
        page = self.context.new_page()
        page.goto(browsers.chromium_extension_url(f"popup/popup.html{query}"))
        page.wait_for_selector("body[data-ready=true]")
        return page

    def tab_id(self, page: Any) -> int:
        marker = f"t2fa-{id(page)}-{time.monotonic_ns()}"
        page.evaluate(f"document.title = {marker!r}")
        return int(self.background(f"(await chrome.tabs.query({{title: {marker!r}}}))[0].id"))

    def host_pids(self) -> list[int]:
        return host_pids_for_home(self.home)


def start_chromium(playwright: Any, root: Path, *, register: bool = True, vault: Path | None = None) -> Chromium:
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    user_data_dir = root / "profile"
    user_data_dir.mkdir(parents=True, exist_ok=True)
    vault = vault or root / "vault.json"
    env = browsers.profile_env(home, vault=vault)
    if register:
        browsers.register_host("chromium", env, user_data_dir=user_data_dir)
    context = browsers.launch_chromium(playwright, user_data_dir, env)
    browser = Chromium(context=context, home=home, user_data_dir=user_data_dir, vault=vault)
    assert browser.worker is not None  # waits for the service worker to start
    browser.background("chrome.storage.local.set({testHooks: true})")  # pages get data-tracker2fa-scanned
    return browser


def stop_chromium(browser: Chromium) -> None:
    """Close the browser and kill the hosts it started (a host may outlive its port for a moment)."""
    with contextlib.suppress(Exception):
        browser.context.close()
    for pid in host_pids_for_home(browser.home):
        kill_pid(pid)


def unlocked_chromium(factory: Callable[..., Chromium], tmp_path_factory: pytest.TempPathFactory,
                      entries: list[dict[str, Any]]) -> Chromium:
    """A Chromium from ``factory`` whose throwaway vault holds ``entries`` (as make_vault takes them), unlocked."""
    vault = tmp_path_factory.mktemp("vault") / "vault.json"
    make_vault(vault, entries)
    browser = factory(vault=vault)
    browser.unlock()
    return browser


def shared_chromium(start: Callable[..., Chromium]) -> Shared[Chromium]:
    """The browsers ``start`` starts, shared by a module's tests until one fails (tests/support/shared.py);
    a discarded one is closed with its hosts."""

    @contextlib.contextmanager
    def running(*made_from: Any) -> Iterator[Chromium]:
        browser = start(*made_from)
        try:
            yield browser
        finally:
            stop_chromium(browser)

    return Shared(running)


@pytest.fixture(scope="module")
def chromium_factory(
    playwright_instance: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Chromium]]:
    """Start Chromiums for this module (closed at its end, if not before)."""
    started: list[Chromium] = []

    def factory(**kwargs: Any) -> Chromium:
        root = tmp_path_factory.mktemp("chromium")
        browser = start_chromium(playwright_instance, root, **kwargs)
        started.append(browser)
        return browser

    yield factory
    for browser in started:
        stop_chromium(browser)


# ---- the mock tracker (`tracker2fa mock`: demo users alice and bob, the real verifier behind it) -----------
# The process itself: tests/e2e_extension/mock_tracker.py.


@pytest.fixture(scope="module")
def shared_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared[MockTracker]]:
    with Shared(lambda: running_mock(tmp_path_factory.mktemp("mock"))) as shared:
        yield shared


@pytest.fixture
def mock(shared_mock: Shared[MockTracker], request: pytest.FixtureRequest) -> Iterator[MockTracker]:
    """The mock tracker, shared by the module's tests until one fails: its demo users are enrolled, log in
    and spend codes, so a rerun (and the tests after a failure) get a fresh one."""
    yield from shared_mock.for_test(request)


@pytest.fixture(autouse=True)
def no_code_given_yet(request: pytest.FixtureRequest) -> None:
    """Each test starts as if no code had been filled yet.

    The host gives each time step's code to a site only once (native_host/fill_memory.py) and forgets that
    when the vault is locked; tests of one module share a browser and fill the same site, so a test that
    finds the vault unlocked locks and unlocks it first instead of waiting up to 30 s for the next code.
    """
    if "browser" not in request.fixturenames:
        return
    browser = request.getfixturevalue("browser")
    if isinstance(browser, Chromium) and browser.host_request("vault.status").get("unlocked"):
        browser.lock()
        browser.unlock()


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot for the user guide when TRACKER2FA_DOCS_SCREENSHOTS=1 (docs/img/NAME.png)."""
    if os.environ.get("TRACKER2FA_DOCS_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / f"{name}.png"))


# ---- page helpers ----------------------------------------------------------------------------------------

FILL = "[data-tracker2fa-fill]"


def fill_control(scope: Any, kind: str = "code") -> Any:
    """The inline control for a code (or backup) field in a page or frame."""
    locator = scope.locator(f"{FILL}[data-tracker2fa-fill={kind}]")
    locator.first.wait_for(state="visible", timeout=10000)
    return locator.first


def control_state(control: Any, *states: str) -> str:
    """Wait until the control reaches one of ``states``; returns the state."""
    selector = ", ".join(f"[data-tracker2fa-state={s}]" for s in states)
    handle = control.element_handle()
    # Evaluated in the control's own frame (it may sit in an iframe).
    handle.owner_frame().wait_for_function("([el, sel]) => el.matches(sel)", arg=[handle, selector], timeout=10000)
    return str(control.get_attribute("data-tracker2fa-state"))


def control_message(control: Any) -> str:
    return str(control.evaluate("el => el.shadowRoot.querySelector('.panel').textContent"))


def wait_filled(locator: Any) -> str:
    """Wait until an input holds a value; returns it."""
    handle = locator.element_handle()
    handle.owner_frame().wait_for_function("el => el.value !== ''", arg=handle, timeout=10000)
    return str(locator.input_value())
