"""Helpers shared by the importer tests (imported as tests.importers.support)."""

from __future__ import annotations

import contextlib
import json
import resource
from collections.abc import Iterator
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


def _address_space_in_use() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


@contextlib.contextmanager
def memory_capped(headroom: int = 768 * 1024 * 1024) -> Iterator[None]:
    """Limit this process's address space to what it uses now plus ``headroom`` (Linux).

    Code that allocates what a file merely declares then fails fast with a MemoryError instead of
    exhausting a shared machine, and the test sees that failure.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space_in_use() + headroom
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
