"""Shared test fixtures. Part-specific fixtures live in each tests/<part>/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def import_samples() -> Path:
    """The GPL-3.0 import samples: read in place, never copied into the project."""
    path = SHARED_DATA / "import-samples"
    if not path.is_dir():
        pytest.skip(f"import samples not found at {path}")
    return path
