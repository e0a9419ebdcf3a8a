#!/usr/bin/env python3
"""One-command set-up from a checkout: venv, package, host registration, a vault, then the demo.

    python3 install.py            # set up and start the mock tracker demo
    python3 install.py --no-run   # set up only

Thin on purpose: every step is a `tracker2fa` command, where the logic lives.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def step(title: str) -> None:
    print(f"== {title}", flush=True)


def run(*cmd: str | Path, check: bool = True) -> int:
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, check=check).returncode


def has_command(*words: str) -> bool:
    """True when `tracker2fa WORDS... --help` works (the sub-command exists in this checkout)."""
    proc = subprocess.run([str(BIN / "tracker2fa"), *words, "--help"], capture_output=True, cwd=ROOT)
    return proc.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-run", action="store_true", help="stop after set-up; do not start the demo")
    parser.add_argument("--no-vault", action="store_true", help="do not offer to create a vault")
    parser.add_argument("--browser", action="append", default=[], help="register for this browser only (repeatable)")
    args = parser.parse_args()

    if not (BIN / "python").exists() and not (BIN / "python.exe").exists():
        step(f"creating {VENV}")
        run(sys.executable, "-m", "venv", VENV)
    # The host, vault and CLI, plus the extras the demo and `tracker2fa try` need (verifier: the mock tracker;
    # devtools: Playwright and websockets to drive a throwaway browser). A server needs only `[verifier]`.
    step("installing tracker2fa into the venv (with the verifier and devtools extras)")
    run(BIN / "python", "-m", "pip", "install", "-q", "-e", f"{ROOT}[verifier,devtools]")

    step("registering the native host with your browsers")
    browser_args = [a for name in args.browser for a in ("--browser", name)]
    if run(BIN / "tracker2fa", "install", *browser_args, check=False) != 0:
        print("   (no browser registered: run `tracker2fa install --browser NAME` once one is installed)")

    if not args.no_vault and has_command("vault", "init"):
        vault_exists = subprocess.run(
            [str(BIN / "python"), "-c", "from native_host.vault import default_vault_path as p; print(p().exists())"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout.strip()
        if vault_exists == "False" and sys.stdin.isatty():
            step("creating your vault (choose a master password)")
            run(BIN / "tracker2fa", "vault", "init", check=False)
        elif vault_exists == "False":
            print("   no vault yet; create one with `.venv/bin/tracker2fa vault init`")

    run(BIN / "tracker2fa", "doctor", check=False)
    if args.no_run:
        return 0
    if not has_command("mock"):
        print("set-up done; the mock tracker demo (`tracker2fa mock`) is not in this checkout yet")
        return 0
    step("starting the mock tracker demo (Ctrl-C to stop)")
    try:
        return run(BIN / "tracker2fa", "mock", check=False)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
