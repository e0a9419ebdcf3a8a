"""Fixtures for the importer tests: the shared samples and their expected entries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "import-samples"


def expected_files() -> list[dict[str, Any]]:
    """The ``files`` list of expected.json, or [] when the samples are absent (a fresh checkout)."""
    path = SAMPLES / "expected.json"
    if not path.is_file():
        return []
    return json.loads(path.read_text(encoding="utf-8"))["files"]


@pytest.fixture(scope="session")
def expected(import_samples: Path) -> dict[str, Any]:
    return json.loads((import_samples / "expected.json").read_text(encoding="utf-8"))
