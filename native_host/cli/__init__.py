"""The ``tracker2fa`` command line.

Each sub-command lives in its own module exposing ``register(subparsers)``; a module's handler imports
what it needs lazily so that ``tracker2fa vault code`` never pays for FastAPI or fido2.

Exit codes (documented in docs/cli.md): 0 success, 1 generic failure, 2 usage error,
3 wrong password, 4 vault not found, 5 vault corrupt or tampered, 6 entry not found or ambiguous,
7 import failed, 8 origin not allowed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import Tracker2faError

# Sub-command modules, in help order. Each defines register(subparsers) -> None.
COMMAND_MODULES = (
    "vault_cmd",
    "install_cmd",
    "doctor_cmd",
    "policy_cmd",
    "pack_cmd",
    "try_cmd",
    "verifier_cmd",
    "mock_cmd",
)

EXIT_CODES = {
    "wrong_password": 3,
    "vault_not_found": 4,
    "vault_corrupt": 5,
    "vault_tampered": 5,
    "unsupported_version": 5,
    "entry_not_found": 6,
    "ambiguous_entry": 6,
    "import_failed": 7,
    "origin_not_allowed": 8,
}
OUT_OF_MEMORY_EXIT = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracker2fa",
        description="One-click second factor for issue trackers: vault, browser host, verifier, mock tracker.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"tracker2fa {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args) or 0)
    except Tracker2faError as exc:
        print(f"tracker2fa: error: {exc.message}", file=sys.stderr)
        # A subclass without its own exit code (e.g. import_wrong_password) takes its parent's (import_failed).
        codes = [exc.code, *(getattr(cls, "code", "") for cls in type(exc).__mro__)]
        return next((EXIT_CODES[code] for code in codes if code in EXIT_CODES), 1)
    except KeyboardInterrupt:
        print("tracker2fa: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        # Whatever ran out, the traceback would help nobody; the unwind has already freed the memory.
        print("tracker2fa: error: out of memory (the input is too large or damaged, or the machine is short of "
              "memory); vault files are only ever replaced whole, so none was left half-written", file=sys.stderr)
        return OUT_OF_MEMORY_EXIT


if __name__ == "__main__":
    sys.exit(main())
