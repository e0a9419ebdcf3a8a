"""Shared test fixtures. Part-specific fixtures live in each tests/<part>/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Any]:
    """The one Playwright driver of the session: Playwright's sync API allows only one at a time."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p
