"""The tracker2fa test kit as a pytest plugin: real browsers with the extension and the native host, for
tracker developers who test their login page with tracker2fa (docs/developer-guide.md, "The test kit").

Registered in the ``pytest11`` entry-point group, so pytest loads it in every run of an environment where
tracker2fa is installed. It therefore imports nothing but pytest and the standard library here: the kit (and
Playwright, websockets, the vault's cryptography) is imported by the fixtures that use it, when they run. Every
name it adds starts with ``tracker2fa_`` (fixtures) or ``--tracker2fa-`` (options), so it cannot shadow a
project's own fixtures; a project overrides any of them by defining a fixture of the same name.

Fixtures:

- ``tracker2fa_launch(browser=None, *, accounts=(), virtual_key=False, auto_confirm=True,
  security_key_origins=())`` — start a browser (:func:`native_host.devtools.kit.launch`); it is closed, and its
  throwaway folder removed, when the test ends. Returns a :class:`~native_host.devtools.kit.Session`.
- ``tracker2fa_browser`` — one such browser, built from the fixtures ``tracker2fa_accounts`` (a list of
  :class:`~native_host.devtools.kit.Account`), ``tracker2fa_security_key_origins`` and ``tracker2fa_virtual_key``
  (all empty / off unless you override them).
- ``tracker2fa_browser_name`` — ``chromium`` (default) or ``firefox``, from ``--tracker2fa-browser``; override it
  with ``params`` to run each test in both.
- ``tracker2fa_mock`` — ``tracker2fa mock`` on a free port with a fresh database for this test
  (:class:`~native_host.devtools.mock.MockTracker`: ``url``, ``alice_uri``, ``alice_backup_codes``); needs the
  ``verifier`` extra.
- ``tracker2fa_playwright`` — the session's sync Playwright (started when a Chromium first needs it). Playwright
  allows one per process: with pytest-playwright installed, override it to return that plugin's ``playwright``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

BROWSER_NAMES = ("chromium", "firefox")
EXTRA = "pip install 'tracker2fa[devtools]'"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tracker2fa", "tracker2fa test kit (real browsers with the extension and host)")
    group.addoption("--tracker2fa-browser", choices=BROWSER_NAMES, default=None,
                    help="the browser tracker2fa_browser and tracker2fa_launch start (default: chromium)")
    group.addoption("--tracker2fa-headed", action="store_true", default=False,
                    help="show the tracker2fa kit's browser windows (needs a display)")


def _kit() -> Any:
    """The kit, imported when a fixture first needs it; without the devtools extra, the pip line."""
    try:
        from native_host.devtools import kit  # the browsers' drivers are imported by launch, for its browser
    except ModuleNotFoundError as exc:
        pytest.fail(f"the tracker2fa test kit cannot load ({exc}): {EXTRA}")
    return kit


@pytest.fixture(scope="session")
def tracker2fa_playwright() -> Iterator[Any]:
    """The sync Playwright driver of the session (one per process is all Playwright allows)."""
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        pytest.fail(f"the tracker2fa kit drives Chromium with Playwright, which is not installed: {EXTRA}")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def tracker2fa_browser_name(pytestconfig: pytest.Config) -> str:
    """``chromium`` unless ``--tracker2fa-browser firefox`` was given."""
    return str(pytestconfig.getoption("tracker2fa_browser") or "chromium")


@pytest.fixture
def tracker2fa_launch(request: pytest.FixtureRequest, tracker2fa_browser_name: str,
                      pytestconfig: pytest.Config) -> Iterator[Callable[..., Any]]:
    """A factory: ``tracker2fa_launch(browser=None, **options)`` starts a browser (see kit.launch) that is
    closed when the test ends."""
    from contextlib import ExitStack

    kit = _kit()
    with ExitStack() as stack:

        def launch(browser: str | None = None, **options: Any) -> Any:
            name = browser or tracker2fa_browser_name
            if name == "chromium" and "playwright" not in options:
                options["playwright"] = request.getfixturevalue("tracker2fa_playwright")
            options.setdefault("headless", not pytestconfig.getoption("tracker2fa_headed"))
            return stack.enter_context(kit.launch(name, **options))

        yield launch


@pytest.fixture
def tracker2fa_accounts() -> list[Any]:
    """The accounts ``tracker2fa_browser``'s vault holds (override: a list of kit.Account)."""
    return []


@pytest.fixture
def tracker2fa_security_key_origins() -> list[str]:
    """The trackers where ``tracker2fa_browser`` answers WebAuthn and U2F with the host's keys (override)."""
    return []


@pytest.fixture
def tracker2fa_virtual_key() -> bool:
    """Whether ``tracker2fa_browser``'s host has the virtual key, confirming by itself (override: True)."""
    return False


@pytest.fixture
def tracker2fa_browser(tracker2fa_launch: Callable[..., Any], tracker2fa_accounts: list[Any],
                       tracker2fa_security_key_origins: list[str], tracker2fa_virtual_key: bool) -> Any:
    """A browser with the extension and host, a vault of ``tracker2fa_accounts``, and security keys on for
    ``tracker2fa_security_key_origins`` (with the virtual key when ``tracker2fa_virtual_key``)."""
    return tracker2fa_launch(accounts=tracker2fa_accounts, security_key_origins=tracker2fa_security_key_origins,
                             virtual_key=tracker2fa_virtual_key)


@pytest.fixture
def tracker2fa_mock(tmp_path: Path) -> Iterator[Any]:
    """``tracker2fa mock`` on a free port with a database of its own (a fresh one per test: the verifier
    accepts each code once, so two tests logging alice in within 30 s would otherwise collide)."""
    from native_host.devtools.mock import run_mock

    with run_mock(tmp_path / "tracker2fa-mock") as mock:
        yield mock
