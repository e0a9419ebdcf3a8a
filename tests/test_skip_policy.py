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
    env["PYTHONPATH"] = str(CONFTEST.parent.parent)  # the conftest imports tests.support.shared
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


def _stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="ascii")
    path.chmod(0o755)


def test_the_test_script_stops_when_postgresql_cannot_be_started(tmp_path):
    repo = CONFTEST.parent.parent
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stub(bin_dir, "dpkg-query", 'echo "install ok installed"')  # the apt step has nothing to do
    _stub(bin_dir, "pg_isready", "exit 2")  # no server answering
    _stub(bin_dir, "pg_ctlcluster", 'echo "Error: could not start server" >&2; exit 1')
    _stub(bin_dir, "sleep", "exit 0")
    env = {**{k: v for k, v in os.environ.items() if k != "TRACKER2FA_NO_POSTGRES"},
           "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(repo / "scripts" / "test.sh"), "--collect-only", "-q", str(CONFTEST)],
                            cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PostgreSQL is not answering on 127.0.0.1 and could not be started" in result.stderr
    assert "== ruff" not in result.stdout and "== pytest" not in result.stdout
