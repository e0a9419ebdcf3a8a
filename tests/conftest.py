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

from tests.support.shared import PHASE_REPORTS

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")

_skipped_collections: list[str] = []
# Browser tests that failed an attempt (nodeid → why, one line per failed attempt), and those of them that
# then passed: named in the summary, so a flake hidden by its rerun is still seen (pytest_terminal_summary).
_failed_attempts: dict[str, list[str]] = {}
_passed_only_on_rerun: list[str] = []


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
    """Under CI=true a skipped test is reported as failed, with the reason it gave for skipping. Each phase's
    report is kept on the item, for fixtures that act on how their test went (tests/support/shared.py)."""
    report: pytest.TestReport = yield
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true: this test skipped, and a skip is a failure in CI ({_skip_reason(report)}). "
            "Install or start what it needs (PostgreSQL, the import samples, the browsers, the extras)."
        )
    if report.when == "setup":  # a new attempt (a rerun runs the same item again)
        item.stash[PHASE_REPORTS] = {}
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """Module-level skips happen at collection: remember them to fail the session under CI=true."""
    if IN_CI and report.skipped:
        _skipped_collections.append(f"{report.nodeid}: {_skip_reason(report)}")


def _one_line(report: pytest.TestReport) -> str:
    """Why an attempt failed, in one line: the crash message, as the short test summary shows it."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = getattr(crash, "message", None) or str(report.longrepr).strip()
    first = text.splitlines()[0] if text else "no message"
    return f"{report.when}: {first[:300]}"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember each attempt pytest-rerunfailures reruns, and which of those tests pass in the end."""
    if report.outcome == "rerun":
        _failed_attempts.setdefault(report.nodeid, []).append(_one_line(report))
    elif report.when == "call" and report.passed and report.nodeid in _failed_attempts:
        _passed_only_on_rerun.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_collections and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped_collections:
        terminalreporter.section("CI=true: skipped modules are failures", sep="=", red=True, bold=True)
        for line in _skipped_collections:
            terminalreporter.line(line, red=True)
    if _passed_only_on_rerun:
        # Not a failure, in CI neither (headless browsers on two cores do flake now and then), but never silent:
        # each one is named with what went wrong the first time.
        terminalreporter.section(f"passed only on rerun: {len(_passed_only_on_rerun)}", sep="=", yellow=True,
                                 bold=True)
        for nodeid in _passed_only_on_rerun:
            terminalreporter.line(f"passed only on rerun: {nodeid}", yellow=True, bold=True)
            for reason in _failed_attempts[nodeid]:
                terminalreporter.line(f"    first failed at {reason}", yellow=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that drives a real browser gets one rerun (pytest-rerunfailures): headless Chromium on a 2-core
    machine now and then loses a tab close or a frame's first URL. A broken product fails both runs. A test that
    passes only on its rerun is named at the end of the run with its first failure ("passed only on rerun"), so
    a flake stays visible instead of turning CI red at random.

    A rerun reuses the module's fixtures (pytest-rerunfailures keeps every scope above the function), so what a
    browser test changes (the mock tracker's users, the vault, the key, the settings) comes from a
    function-scoped fixture: the rerun must meet the product as the first attempt did, not as it left it."""
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
