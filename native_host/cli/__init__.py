"""The ``tracker2fa`` command line: a core that names no part.

Sub-commands come from the entry-point group ``tracker2fa.commands`` that each part declares in
pyproject.toml (the vault and deploy commands here, ``try`` in ``native_host.devtools``, ``verifier`` and
``mock`` in the verifier package). Each entry point names a ``register(subparsers)`` function; a module's
handlers import what they need lazily, so that ``tracker2fa vault code`` never pays for FastAPI or fido2.
An entry point may name the extra it needs (``verifier = "verifier.cli:register [verifier]"``): when that
extra is missing, that sub-command alone fails, with the ``pip install`` line that fixes it.

Exit codes (documented in docs/cli.md): 0 success, 1 generic failure (also: a sub-command whose extra is not
installed), 2 usage error, 3 wrong password, 4 vault not found, 5 vault corrupt or tampered, 6 entry not
found or ambiguous, 7 import failed, 8 origin not allowed, 130 interrupted. A part's own errors are its
handlers' business: they print them and return an exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..errors import Tracker2faError
from .entry_points import GROUP as ENTRY_POINT_GROUP
from .entry_points import CommandPoint, command_points

UNAVAILABLE_EXIT = 1
DEBUG_ENV = "TRACKER2FA_DEBUG"  # =1: an unexpected error shows its traceback instead of one line

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
# Our own packages: a ModuleNotFoundError naming one of them is a bug or a broken install, never a missing extra.
OWN_PACKAGES = ("native_host", "verifier")


class CommandUnavailable(Exception):
    """A sub-command that cannot run here: its extra is not installed, or its module does not load."""


def missing_extra(command: str, extras: Sequence[str], missing: str | None) -> CommandUnavailable:
    """The error for a sub-command whose extra is not installed, with the ``pip install`` line that fixes it."""
    if not extras:
        return CommandUnavailable(f"tracker2fa {command} is unavailable: the module {missing} is not installed")
    what = " and ".join(f"'{e}'" for e in extras) + (" extras" if len(extras) > 1 else " extra")
    return CommandUnavailable(f"tracker2fa {command} needs the {what}: pip install 'tracker2fa[{','.join(extras)}]' "
                              f"(missing module: {missing})")


def command_entry_points() -> list[CommandPoint]:
    """The declared sub-commands, in the order of the distribution's entry_points.txt."""
    return command_points()


def _is_own_module(name: str | None) -> bool:
    return (name or "").partition(".")[0] in OWN_PACKAGES


def _wanted(points: list[CommandPoint], argv: Sequence[str]) -> list[CommandPoint]:
    """Only the sub-command being run when argv starts with its name; every one for help and usage errors."""
    named = [ep for ep in points if argv and ep.name == argv[0]]
    return named or points


def _register(subparsers: argparse._SubParsersAction, point: CommandPoint) -> None:
    """Load one part's ``register`` and let it add its parsers; a module that does not load adds a stub."""
    before = set(subparsers.choices)
    try:
        register: Callable[[argparse._SubParsersAction], None] = point.load()
    except ModuleNotFoundError as exc:
        if _is_own_module(exc.name):  # the part's own module is broken or absent: say so, not "install"
            error = CommandUnavailable(f"tracker2fa {point.name} is unavailable: its module does not load ({exc})")
        else:
            error = missing_extra(point.name, point.extras, exc.name)
        _register_unavailable(subparsers, point.name, error)
        return
    except Exception as exc:  # any other import-time failure breaks this sub-command only
        error = CommandUnavailable(f"tracker2fa {point.name} is unavailable: its module does not load "
                                   f"({type(exc).__name__}: {exc})")
        _register_unavailable(subparsers, point.name, error)
        return
    register(subparsers)
    for name in set(subparsers.choices) - before:
        subparsers.choices[name].set_defaults(command_name=name, command_extras=tuple(point.extras))


def _register_unavailable(subparsers: argparse._SubParsersAction, name: str, error: CommandUnavailable) -> None:
    # No arguments and no --help of its own: whatever follows its name, running it reports the error.
    parser = subparsers.add_parser(name, help=f"(unavailable: {error})", add_help=False)
    parser.set_defaults(command_name=name, command_extras=(), command_unavailable=error)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser with every declared sub-command, or only the one ``argv`` runs (a faster start)."""
    points = command_entry_points()
    if not points:
        raise CommandUnavailable(f"no sub-commands are registered (entry-point group {ENTRY_POINT_GROUP}): "
                                 "install the package, e.g. pip install -e . in a checkout")
    parser = argparse.ArgumentParser(
        prog="tracker2fa",
        description="One-click second factor for issue trackers: vault, browser host, verifier, mock tracker.",
    )
    parser.add_argument("--version", action="version", version=f"tracker2fa {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    loaded: set[str] = set()
    for point in _wanted(points, argv):
        if point.value in loaded:  # one register() may add several commands (install and uninstall)
            continue
        loaded.add(point.value)
        _register(subparsers, point)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(argv)
        args, unknown = parser.parse_known_args(argv)
        if getattr(args, "command_unavailable", None):
            raise args.command_unavailable
        if unknown:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        try:
            return int(args.handler(args) or 0)
        except ModuleNotFoundError as exc:
            # A handler imports its extra's packages lazily; a missing one is that extra not being installed.
            if _is_own_module(exc.name) or not hasattr(args, "command_name"):
                raise
            raise missing_extra(args.command_name, args.command_extras, exc.name) from None
    except CommandUnavailable as exc:
        print(f"tracker2fa: error: {exc}", file=sys.stderr)
        return UNAVAILABLE_EXIT
    except Tracker2faError as exc:
        print(f"tracker2fa: error: {exc.message}", file=sys.stderr)
        # A subclass without its own exit code (e.g. import_wrong_password) takes its parent's (import_failed).
        codes = [exc.code, *(getattr(cls, "code", "") for cls in type(exc).__mro__)]
        return next((EXIT_CODES[code] for code in codes if code in EXIT_CODES), 1)
    except KeyboardInterrupt:
        print("tracker2fa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (`tracker2fa install --json | head`): not an error of ours. Point stdout at devnull so
        # the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except MemoryError:
        # Whatever ran out, the traceback would help nobody; the unwind has already freed the memory.
        print("tracker2fa: error: out of memory (the input is too large or damaged, or the machine is short of "
              "memory); vault files are only ever replaced whole, so none was left half-written", file=sys.stderr)
        return OUT_OF_MEMORY_EXIT
    except Exception as exc:
        # The last resort: an error no part turned into a message is a bug of ours. One line saying so and where
        # (never a traceback a user must read, which may quote their data); TRACKER2FA_DEBUG=1 shows it all.
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        print(f"tracker2fa: error: {unexpected(exc)}", file=sys.stderr)
        return 1


def unexpected(exc: BaseException) -> str:
    """The one line for an exception nothing handled: its type, the innermost place, and what to do."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return (f"unexpected {type(exc).__name__}{where}: {str(exc).splitlines()[0] if str(exc) else ''} — a bug in "
            f"tracker2fa; run the command again with {DEBUG_ENV}=1 for the details to report")


if __name__ == "__main__":
    sys.exit(main())
