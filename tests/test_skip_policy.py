"""The suite's skip policy (tests/conftest.py), run on small inner pytest sessions in real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

SKIPS_IN_A_TEST = """
import pytest

def test_runs():
    pass

def test_needs_postgres():
    pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
"""

SKIPS_A_MODULE = """
import pytest

pytest.skip("no VaultFile yet", allow_module_level=True)

def test_never_collected():
    pass
"""

SKIPS_FROM_A_FIXTURE = """
def test_uses_the_corpus(import_samples):
    pass
"""


def _inner_session(tmp_path: Path, test_source: str, *, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(test_source), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


def test_under_ci_a_skipped_test_fails_the_run_and_says_why(tmp_path):
    result = _inner_session(tmp_path, SKIPS_IN_A_TEST, ci="true")
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "1 failed, 1 passed" in result.stdout
    assert "CI=true: this test skipped" in result.stdout and "PostgreSQL is not reachable" in result.stdout


def test_under_ci_a_module_level_skip_fails_the_run(tmp_path):
    result = _inner_session(tmp_path, SKIPS_A_MODULE, ci="true")
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "skipped modules are failures" in result.stdout and "no VaultFile yet" in result.stdout


def test_under_ci_a_missing_sample_corpus_fails_the_run(tmp_path):
    # The inner session's conftest looks for ../shared/data/import-samples beside tmp_path: not there.
    result = _inner_session(tmp_path, SKIPS_FROM_A_FIXTURE, ci="true")
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "import samples not found" in result.stdout


def test_locally_a_skip_passes_and_its_reason_is_in_the_summary(tmp_path):
    result = _inner_session(tmp_path, SKIPS_IN_A_TEST, ci=None)
    assert result.returncode == pytest.ExitCode.OK, result.stdout
    assert "SKIPPED [1]" in result.stdout and "PostgreSQL is not reachable" in result.stdout
