#!/usr/bin/env python3
"""One-command set-up from a checkout: venv, package, host registration, a vault, then the demo.

    python3 install.py            # set up and start the mock tracker demo
    python3 install.py --no-run   # set up only
    python3 install.py --port N   # the demo on another port (default 8080)

Thin on purpose: every step is a `tracker2fa` command, where the logic lives. The one step of its own puts
`tracker2fa` on PATH, as pipx does: a link in ~/.local/bin when that folder is on PATH, else the exact line
to run.
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def put_on_path(command: Path, home: Path, path: str) -> str:
    """Make ``command`` (the venv's `tracker2fa`) runnable by its bare name; returns what to tell the user.

    Already the one PATH finds: nothing to do. Else, when ~/.local/bin is on PATH (where pipx puts commands):
    a symbolic link there, never replacing a file or another link already there. Else: the exact line to run.
    """
    name = command.name
    found = shutil.which(name, path=path)
    if found and Path(found).resolve() == command.resolve():
        return f"`{name}` is on your PATH ({found})"
    local_bin = home / ".local" / "bin"
    on_path = [Path(p).expanduser() for p in path.split(os.pathsep) if p]
    link = local_bin / name
    if os.name != "nt" and local_bin in on_path:
        if link.is_symlink() and link.resolve() == command.resolve():
            return f"`{name}` is on your PATH ({link})"
        if not link.exists() and not link.is_symlink():
            local_bin.mkdir(parents=True, exist_ok=True)
            link.symlink_to(command)
            shadowed = f"; note: {found} comes first on your PATH" if found else ""
            return f"`{name}` is on your PATH: linked {link} -> {command}{shadowed}"
        return (f"`{name}` is not linked: {link} exists already and was left alone. Run `{command}`, or replace it: "
                f"ln -sf {command} {link}")
    folder = command.parent
    return (f"`{name}` is not on your PATH. Run: export PATH=\"{folder}{os.pathsep}$PATH\" (add that line to your "
            f"shell's start-up file to keep it), or call it as {command}")


def has_command(*words: str) -> bool:
    """True when `tracker2fa WORDS... --help` works (the sub-command exists in this checkout)."""
    proc = subprocess.run([str(BIN / "tracker2fa"), *words, "--help"], capture_output=True, cwd=ROOT)
    return proc.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-run", action="store_true", help="stop after set-up; do not start the demo")
    parser.add_argument("--no-vault", action="store_true", help="do not offer to create a vault")
    parser.add_argument("--browser", action="append", default=[], help="register for this browser only (repeatable)")
    parser.add_argument("--port", type=int, default=8080, help="the demo's port (default 8080; 0 = a free one)")
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0-65535, got {args.port}")

    if not (BIN / "python").exists() and not (BIN / "python.exe").exists():
        step(f"creating {VENV}")
        run(sys.executable, "-m", "venv", VENV)
    # The host, vault and CLI, plus the extras the demo and `tracker2fa try` need (verifier: the mock tracker;
    # devtools: Playwright and websockets to drive a throwaway browser). A server needs only `[verifier]`.
    step("installing tracker2fa into the venv (with the verifier and devtools extras)")
    run(BIN / "python", "-m", "pip", "install", "-q", "-e", f"{ROOT}[verifier,devtools]")

    step("putting tracker2fa on your PATH")
    print(f"   {put_on_path(BIN / 'tracker2fa', Path.home(), os.environ.get('PATH', ''))}")

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
        return run(BIN / "tracker2fa", "mock", "--port", str(args.port), check=False)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
