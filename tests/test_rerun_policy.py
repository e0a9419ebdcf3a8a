"""The suite's rerun policy (tests/conftest.py): a browser test gets one rerun, and one that passes only on its
rerun is named at the end of the run. Run on small inner pytest sessions in real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

# The first attempt fails and leaves a mark (a file), the second finds it and passes: a flake.
FLAKY_BROWSER_TEST = """
import pytest
from pathlib import Path

pytestmark = pytest.mark.browser

def test_steady():
    pass

def test_flaky(tmp_path_factory):
    mark = tmp_path_factory.getbasetemp() / "first-attempt-was-here"
    if not mark.exists():
        mark.touch()
        raise TimeoutError("the tab never closed")
"""

BROKEN_BROWSER_TEST = """
import pytest

pytestmark = pytest.mark.browser

def test_broken():
    assert 1 + 1 == 3, "the product is broken"
"""

FLAKY_PLAIN_TEST = """
def test_not_a_browser_test(tmp_path_factory):
    mark = tmp_path_factory.getbasetemp() / "first-attempt-was-here"
    if not mark.exists():
        mark.touch()
        raise TimeoutError("no second chance")
"""


# A module's costly fixture that a test changes (here a mock tracker's one user, enrolled by the first attempt,
# which then times out): the rerun must meet the user not yet enrolled.
SHARED_STATE_TEST = """
import contextlib
import pytest
from tests.support.shared import Shared

pytestmark = pytest.mark.browser

@pytest.fixture(scope="module")
def trackers():
    with Shared(lambda: contextlib.nullcontext({"bob": "not enrolled"})) as shared:
        yield shared

@pytest.fixture
def tracker(trackers, request):
    yield from trackers.for_test(request)

def test_enrols_bob_then_times_out_once(tracker, tmp_path_factory):
    assert tracker["bob"] == "not enrolled", "the rerun met the first attempt's enrolment"
    tracker["bob"] = "enrolled"
    mark = tmp_path_factory.getbasetemp() / "first-attempt-was-here"
    if not mark.exists():
        mark.touch()
        raise TimeoutError("the enrolment page never loaded")

def test_the_next_test_shares_the_tracker_while_tests_pass(tracker):
    assert tracker["bob"] == "enrolled"
"""


def _inner_session(tmp_path: Path, test_source: str, *, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(test_source), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    browser: drives a real browser\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(CONFTEST.parent.parent)  # the conftest imports tests.support.shared
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only the rerun plugin: the inner sessions start in a second
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "pytest_rerunfailures",
         "--basetemp", str(tmp_path / "basetemp"), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


def _section(stdout: str, title: str) -> list[str]:
    """The lines of the summary section whose header contains ``title``."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("=") and title in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("=")), len(lines))
    return lines[start + 1 : end]


@pytest.mark.parametrize("ci", [None, "true"], ids=["locally", "under CI=true"])
def test_a_browser_test_that_passes_only_on_its_rerun_passes_the_run_and_is_named_with_its_first_failure(
    tmp_path, ci
):
    result = _inner_session(tmp_path, FLAKY_BROWSER_TEST, ci=ci)
    assert result.returncode == pytest.ExitCode.OK, result.stdout
    assert "2 passed, 1 rerun" in result.stdout
    assert _section(result.stdout, "passed only on rerun: 1")[:2] == [
        "passed only on rerun: test_inner.py::test_flaky",
        "    first failed at call: TimeoutError: the tab never closed",
    ], result.stdout


def test_a_browser_test_that_fails_its_rerun_too_fails_the_run_and_is_not_named_as_passed(tmp_path):
    result = _inner_session(tmp_path, BROKEN_BROWSER_TEST, ci=None)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "1 failed, 1 rerun" in result.stdout and "the product is broken" in result.stdout
    assert "passed only on rerun" not in result.stdout


def test_a_test_that_drives_no_browser_gets_no_rerun(tmp_path):
    result = _inner_session(tmp_path, FLAKY_PLAIN_TEST, ci=None)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "rerun" not in result.stdout


def test_a_rerun_meets_a_fresh_shared_fixture_not_the_state_its_first_attempt_left(tmp_path):
    result = _inner_session(tmp_path, SHARED_STATE_TEST, ci=None)
    assert result.returncode == pytest.ExitCode.OK, result.stdout
    assert "2 passed, 1 rerun" in result.stdout
    assert "first failed at call: TimeoutError: the enrolment page never loaded" in result.stdout
