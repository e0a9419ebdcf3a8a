"""Helpers shared by the importer tests (imported as tests.importers.support)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The GPL-3.0 samples live beside the checkout and are read in place, never copied into it.
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "import-samples"


def expected_files() -> list[dict[str, Any]]:
    """The ``files`` list of expected.json, or [] when the samples are absent (a fresh checkout)."""
    path = SAMPLES / "expected.json"
    if not path.is_file():
        return []
    return json.loads(path.read_text(encoding="utf-8"))["files"]
