#!/usr/bin/env python3
"""Host cold start from the Debian package against the development venv, each as a ratio to its own Python's
`python3 -c pass`, measured in the same run (issue 18: the package's ratio at most 1.2× the venv's).

    sudo .venv/bin/python bench/package_bench.py --deb DEB [--dist DIST] [--runs 30]

With ``--deb`` the package is installed for the run (`dpkg -i`) and purged afterwards; without it, an installed
package is measured as it is. ``--dist`` (the folder of ``python -m build`` plus ``pip wheel``) adds a venv of
Debian's Python with the wheel installed offline, as the admin guide's pip route makes it. Rows (spawn → `hello`
reply, the host started as a browser starts it):

- dev venv: ``.venv/bin/tracker2fa-host`` (what a per-user install registers; editable install);
- wheel venv: the same host from the wheel in a venv of ``/usr/bin/python3``;
- package, through the launcher browsers start (``/usr/lib/tracker2fa/tracker2fa-host``: /bin/sh, then exec), and
  the package's console script directly.

Two ratios per row: to its own interpreter's ``-c pass`` (the development venv's Python, or Debian's), and to
``python3 -c pass`` of PATH (``/usr/bin/python3``), the one baseline every row shares. Runs alternate between
every case; medians and minima are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from native_host import DEV_EXTENSION_ID  # noqa: E402

DEV_PYTHON = str(REPO / ".venv" / "bin" / "python")
DEV_HOST = str(REPO / ".venv" / "bin" / "tracker2fa-host")
DEB_PYTHON = "/usr/bin/python3"
DEB_LAUNCHER = "/usr/lib/tracker2fa/tracker2fa-host"
DEB_HOST = "/usr/lib/tracker2fa/bin/tracker2fa-host"
ORIGIN = f"chrome-extension://{DEV_EXTENSION_ID}/"


def first_hello(host: str, env: dict[str, str]) -> float:
    """Seconds from spawning ``host`` (as Chromium does) to its `hello` reply."""
    body = json.dumps({"id": 1, "method": "hello"}).encode()
    start = time.perf_counter()
    proc = subprocess.Popen([host, ORIGIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=env)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(struct.pack("=I", len(body)) + body)
    proc.stdin.flush()
    size = struct.unpack("=I", proc.stdout.read(4))[0]
    reply = json.loads(proc.stdout.read(size))
    elapsed = time.perf_counter() - start
    if "result" not in reply:
        raise RuntimeError(f"{host} answered with an error: {reply}")
    proc.stdin.close()
    proc.wait()
    return elapsed


def bare(python: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([python, "-c", "pass"], env=env, check=True)
    return time.perf_counter() - start


def measure(runs: int, env: dict[str, str], wheel_venv: Path | None) -> dict[str, list[float]]:
    cases = {
        "dev venv host": lambda: first_hello(DEV_HOST, env),
        "dev venv python -c pass": lambda: bare(DEV_PYTHON, env),
        "package, launcher": lambda: first_hello(DEB_LAUNCHER, env),
        "package, console script": lambda: first_hello(DEB_HOST, env),
        "package python3 -c pass": lambda: bare(DEB_PYTHON, env),
    }
    if wheel_venv is not None:
        cases["wheel venv host"] = lambda: first_hello(str(wheel_venv / "bin" / "tracker2fa-host"), env)
    for case in cases.values():  # warm the page cache and the bytecode
        case()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, case in cases.items():
            times[name].append(case())
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--deb", type=Path, help="install this package for the run, and purge it afterwards")
    parser.add_argument("--dist", type=Path, help="every wheel (tracker2fa's and its dependencies'): adds a wheel venv")
    args = parser.parse_args()
    installed_here = False
    if args.deb is not None:
        if Path("/usr/lib/tracker2fa").exists():
            parser.error("a tracker2fa package is already installed: measure it without --deb")
        subprocess.run(["dpkg", "-i", str(args.deb)], check=True, stdout=subprocess.DEVNULL)
        installed_here = True
    elif not Path(DEB_HOST).exists():
        parser.error(f"no package installed ({DEB_HOST}); pass --deb FILE")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8"}
            wheel_venv = None
            if args.dist is not None:
                wheel_venv = Path(tmp) / "venv"
                subprocess.run([DEB_PYTHON, "-m", "venv", str(wheel_venv)], check=True)
                pip = [str(wheel_venv / "bin" / "pip"), "install", "-q", "--no-index", "--disable-pip-version-check"]
                subprocess.run([*pip, *map(str, args.dist.glob("*.whl"))], check=True, env=env)
            times = measure(args.runs, env, wheel_venv)
    finally:
        if installed_here:
            subprocess.run(["dpkg", "--purge", "tracker2fa"], check=True, stdout=subprocess.DEVNULL)
    med = {name: statistics.median(values) for name, values in times.items()}
    low = {name: min(values) for name, values in times.items()}
    common = "package python3 -c pass"  # /usr/bin/python3: `python3` on PATH
    rows = [("dev venv (editable)", "dev venv host", "dev venv python -c pass")]
    if "wheel venv host" in times:
        rows.append(("wheel venv, Debian's python3", "wheel venv host", common))
    rows += [
        ("package via its launcher", "package, launcher", common),
        ("package console script", "package, console script", common),
    ]
    dev_own = med["dev venv host"] / med["dev venv python -c pass"]
    dev_common = med["dev venv host"] / med[common]
    print(f"{'spawn → hello':30} | {'host':23} | {'own python -c pass':23} | own ratio (÷ dev) | "
          "python3 -c pass ratio (÷ dev)")
    print("-" * 130)
    for label, ours, base in rows:
        own, shared = med[ours] / med[base], med[ours] / med[common]
        print(
            f"{label:30} | {med[ours] * 1000:5.1f} ms (min {low[ours] * 1000:5.1f}) | "
            f"{med[base] * 1000:5.1f} ms (min {low[base] * 1000:5.1f}) | {own:4.2f}× ({own / dev_own:4.2f}×)     | "
            f"{shared:4.2f}× ({shared / dev_common:4.2f}×)"
        )
    print(f"\n`python3 -c pass` ({DEB_PYTHON}): {med[common] * 1000:.1f} ms (min {low[common] * 1000:.1f})")
    print(f"\nmedians (minima) of {args.runs} alternated runs; dev venv {sys.version.split()[0]} "
          f"({os.path.realpath(DEV_PYTHON)}), package {DEB_PYTHON} ({os.path.realpath(DEB_PYTHON)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
