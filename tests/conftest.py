"""Shared test fixtures and the skip policy. Part-specific fixtures live in each tests/<part>/conftest.py.

Skip policy: locally a test may skip when something it needs is missing (PostgreSQL, the sample corpus,
a browser, a module), and the reason is printed in the summary (``-rs`` is always on). Under ``CI=true``
every skip is a failure: a green CI run means every test ran.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")

_skipped_collections: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    """Always report skip reasons in the short summary (as ``-rs`` would)."""
    chars = config.option.reportchars or ""
    if not any(c in chars for c in "sSaA"):
        config.option.reportchars = chars + "s"
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and not any(c in reporter.reportchars for c in "sSaA"):
        reporter.reportchars += "s"


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """Under CI=true a skipped test is reported as failed, with the reason it gave for skipping."""
    report: pytest.TestReport = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true: this test skipped, and a skip is a failure in CI ({_skip_reason(report)}). "
            "Install or start what it needs (PostgreSQL, the import samples, the browsers, the extras)."
        )
    return report


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """Module-level skips happen at collection: remember them to fail the session under CI=true."""
    if IN_CI and report.skipped:
        _skipped_collections.append(f"{report.nodeid}: {_skip_reason(report)}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_collections and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped_collections:
        terminalreporter.section("CI=true: skipped modules are failures", sep="=", red=True, bold=True)
        for line in _skipped_collections:
            terminalreporter.line(line, red=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives a real browser gets one rerun (pytest-rerunfailures): headless Chromium on a 2-core
    machine now and then loses a tab close or a frame's first URL. A broken product fails both runs, and every
    rerun is listed in the summary ("N rerun"), so a flake stays visible instead of turning CI red at random."""
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("flaky"):
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=1))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def import_samples() -> Path:
    """The GPL-3.0 import samples: read in place, never copied into the project."""
    path = SHARED_DATA / "import-samples"
    if not path.is_dir():
        pytest.skip(f"import samples not found at {path} (in CI: ../shared/data beside the clone)")
    return path


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Any]:
    """The one Playwright driver of the session: Playwright's sync API allows only one at a time."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p
