#!/usr/bin/env python3
"""What the test kit's pytest plugin costs every pytest run of an environment where tracker2fa is installed
(pytest loads every ``pytest11`` plugin in every run, ours included, even when no test uses it).

    .venv/bin/python bench/kit_bench.py [--runs 30]

Rows, each a fresh ``python -m pytest --collect-only`` on an empty test file in a temporary folder (so no
conftest of this repository is involved), alternating run by run:

- baseline: the plugin disabled (``-p no:tracker2fa``);
- with the plugin: as a tracker developer's pytest starts.

Prints medians and minima and the ratio of the medians (the plugin's share of a pytest start).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        (cwd / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
        base = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "test_nothing.py"]
        rows: dict[str, list[float]] = {"baseline (-p no:tracker2fa)": [], "with the tracker2fa plugin": []}
        timed(base, cwd)  # warm the file cache
        for _ in range(args.runs):
            rows["baseline (-p no:tracker2fa)"].append(timed([*base, "-p", "no:tracker2fa"], cwd))
            rows["with the tracker2fa plugin"].append(timed(base, cwd))
    medians = {name: statistics.median(times) for name, times in rows.items()}
    print(f"pytest --collect-only of one empty test, {args.runs} runs each, alternating")
    print(f"{'row':32} {'median ms':>10} {'min ms':>8} {'ratio':>7}")
    baseline = medians["baseline (-p no:tracker2fa)"]
    for name, times in rows.items():
        print(f"{name:32} {medians[name] * 1000:10.1f} {min(times) * 1000:8.1f} {medians[name] / baseline:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
