"""Fixtures for the importer tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def expected(import_samples: Path) -> dict[str, Any]:
    """expected.json of the shared import samples."""
    return json.loads((import_samples / "expected.json").read_text(encoding="utf-8"))
