"""Fixtures for the mock-tracker tests: a real verifier on SQLite, the mock app on a real uvicorn server
on 127.0.0.1 (reached as http://localhost:PORT), and one headless Chromium per test session."""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.support.shared import Shared

CHROMIUM = "/usr/bin/chromium"
_counter = itertools.count(1)


class Clock:
    """Real time plus an offset a test can move forward (lockout expiry, next TOTP step)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class MockServer:
    """A running mock tracker and the verifier behind it."""

    verifier: Any
    clock: Clock
    port: int
    totps: dict[str, pyotp.TOTP] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def new_user(self, prefix: str = "user", *, password: str = "correct horse battery", groups=()) -> tuple[str, str]:
        """A fresh user name (each test gets its own, so TOTP replay state never leaks between tests)."""
        name = f"{prefix}{next(_counter)}"
        self.verifier.create_user(name, password, groups=groups)
        return name, password

    def enrol_totp(self, username: str) -> pyotp.TOTP:
        """Enrol TOTP through the verifier as an authenticator app would; returns the app's generator.

        The confirming code is the one of the previous time step (within the ±1 window), so the
        current step's code stays unused for the test to log in with.
        """
        enrolment = self.verifier.totp_enroll_begin(username)
        totp = pyotp.TOTP(enrolment.secret)
        result = self.verifier.totp_enroll_confirm(username, totp.at(self.clock() - 30), "127.0.0.1", "pytest")
        assert result.ok, result
        self.totps[username] = totp
        return totp

    def totp_of(self, username: str) -> pyotp.TOTP:
        """The generator enrolled for ``username`` by :meth:`enrol_totp`."""
        return self.totps[username]

    def code(self, totp: pyotp.TOTP, steps: int = 0) -> str:
        return totp.at(self.clock() + 30 * steps)


@contextlib.contextmanager
def _serve_mock(db_url: str, server_key: bytes | None = None) -> Iterator[MockServer]:
    from tests.mock.support import free_port, start_server, verifier_settings
    from verifier.mock import create_mock_app
    from verifier.service import Verifier
    from verifier.store import open_store

    clock = Clock()
    port = free_port()
    verifier = Verifier(open_store(db_url), verifier_settings(port, server_key=server_key), clock=clock)
    server, thread = start_server(create_mock_app(verifier), port)
    yield MockServer(verifier, clock, port)
    server.should_exit = True
    thread.join(timeout=10)
    verifier.store.close()


@pytest.fixture(scope="module")
def shared_mock_server(tmp_path_factory) -> Iterator[Shared[MockServer]]:
    def start() -> contextlib.AbstractContextManager[MockServer]:
        db = Path(tmp_path_factory.mktemp("mockdb")) / "verifier.db"
        return _serve_mock(f"sqlite:///{db}")

    with Shared(start) as shared:
        yield shared


@pytest.fixture
def mock_server(shared_mock_server: Shared[MockServer], request: pytest.FixtureRequest) -> Iterator[MockServer]:
    """The mock tracker on a fresh SQLite verifier database, shared by the module's tests until one fails
    (tests/support/shared.py): each test makes its own users, but a failed one may leave its clock moved,
    its policy or its lockouts behind, and its rerun starts on a fresh server."""
    yield from shared_mock_server.for_test(request)


PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_MOCK_DB = "tracker2fa_mock_tests"


@contextlib.contextmanager
def _serve_mock_on_postgres(psycopg: Any) -> Iterator[MockServer]:
    """The mock tracker on a fresh PostgreSQL database (its own, dropped afterwards)."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {PG_MOCK_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {PG_MOCK_DB}")
    try:
        with _serve_mock(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_MOCK_DB, server_key=os.urandom(32)) as server:
            yield server
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {PG_MOCK_DB} WITH (FORCE)")


@pytest.fixture(scope="module")
def shared_mock_server_pg() -> Iterator[Shared[MockServer]]:
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}")
    with Shared(lambda: _serve_mock_on_postgres(psycopg)) as shared:
        yield shared


@pytest.fixture
def mock_server_pg(shared_mock_server_pg: Shared[MockServer], request: pytest.FixtureRequest) -> Iterator[MockServer]:
    """The mock tracker on PostgreSQL, shared like :func:`mock_server`."""
    yield from shared_mock_server_pg.for_test(request)


@pytest.fixture(scope="session")
def browser(playwright_instance: Any) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run"])
    yield browser
    browser.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    """A fresh browser context (own cookies) and page per test."""
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def policy(mock_server) -> Iterator[Any]:
    """Lets a test change the policy; puts the original back afterwards."""
    v = mock_server.verifier
    original = v.get_policy().to_dict()

    def set_policy(**changes: Any) -> None:
        v.update_policy(actor="pytest", **{**original, **changes})  # the TOTP settings too

    yield set_policy
    set_policy()
