"""The seams of the tree: the user's machine (native_host) and the server (verifier) share no code, each side
imports only the packages its install brings, and the ``tracker2fa`` command is put together from the
parts' entry points, a missing or broken part failing alone."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from native_host import cli
from native_host.cli.entry_points import CommandPoint

REPO = Path(__file__).resolve().parent.parent

# Third-party packages (top-level module names) each part of the user's machine may import.
BASE = {"fido2", "cryptography", "platformdirs", "idna", "zxcvbn"}  # pyproject's [project] dependencies
OPTIONAL_TRANSPORTS = {"smartcard", "bleak"}  # the nfc and ble extras, imported only when that transport is used
DEVTOOLS = {"playwright", "websockets", "pytest"}  # the devtools extra (`tracker2fa try`, the test kit)


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name of the file
    imported: str  # absolute dotted name it imports
    where: str  # path:line, for the failure message


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path) -> Iterator[Import]:
    """Every import in one file, at any depth (function-local ones included), relative ones made absolute,
    and ``importlib.import_module`` / ``__import__`` calls with a literal name."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            yield from (Import(name, alias.name, where) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield Import(name, target, where)
            # `from . import x` / `from native_host import errors` may name modules as well as attributes.
            yield from (Import(name, f"{target}.{alias.name}".lstrip("."), where) for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield Import(name, node.args[0].value, where)


def imports_under(package: str, root: Path = REPO) -> list[Import]:
    return [found for path in sorted((root / package).rglob("*.py")) for found in imports_of(path, root)]


def crossings(importer: str, forbidden: str, root: Path = REPO) -> list[str]:
    return [f"{i.where}: {i.importer} imports {i.imported}" for i in imports_under(importer, root)
            if i.imported == forbidden or i.imported.startswith(forbidden + ".")]


def test_nothing_under_native_host_imports_verifier() -> None:
    assert crossings("native_host", "verifier") == []


def test_nothing_under_verifier_imports_native_host() -> None:
    assert crossings("verifier", "native_host") == []


def test_the_import_scan_sees_function_local_relative_and_dynamic_imports(tmp_path: Path) -> None:
    """The scan itself: a seam crossed in any of the ways Python allows is found."""
    pkg = tmp_path / "native_host" / "deep"
    pkg.mkdir(parents=True)
    (tmp_path / "native_host" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(textwrap.dedent("""
        import json

        def later():
            from verifier.service import Verifier

        class Lazy:
            def method(self):
                import verifier.http as http

        def dynamic():
            import importlib
            return importlib.import_module("verifier.mock")

        plugin = __import__("verifier")

        from ..errors import Tracker2faError  # relative: native_host.errors, not a crossing
    """))
    found = crossings("native_host", "verifier", tmp_path)
    assert sorted(line.split(": ", 1)[1] for line in found) == [
        "native_host.deep.mod imports verifier",
        "native_host.deep.mod imports verifier.http",
        "native_host.deep.mod imports verifier.mock",
        "native_host.deep.mod imports verifier.service",
        "native_host.deep.mod imports verifier.service.Verifier",
    ]
    assert "native_host.errors" in {i.imported for i in imports_under("native_host", tmp_path)}


def third_party(imports: list[Import]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for i in imports:
        top = i.imported.partition(".")[0]
        if top and top not in sys.stdlib_module_names and top not in ("native_host", "verifier", "__future__"):
            found.setdefault(top, []).append(i.where)
    return found


def test_the_users_machine_imports_only_its_base_dependencies_and_optional_transports() -> None:
    host = [i for i in imports_under("native_host") if not i.importer.startswith("native_host.devtools")]
    extra = {name: where for name, where in third_party(host).items() if name not in BASE | OPTIONAL_TRANSPORTS}
    assert extra == {}, "native_host imports packages a bare `pip install tracker2fa` does not bring"


def test_the_developer_tools_import_only_the_base_and_the_devtools_extra() -> None:
    tools = [i for i in imports_under("native_host") if i.importer.startswith("native_host.devtools")]
    extra = {name: where for name, where in third_party(tools).items() if name not in BASE | DEVTOOLS}
    assert extra == {}


# ---- the tracker2fa command: one command, put together from the parts' entry points ----


def test_every_declared_sub_command_loads_in_a_full_install() -> None:
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    declared = {ep.name for ep in cli.command_entry_points()}
    assert {"vault", "install", "doctor", "try", "verifier", "mock"} <= declared
    assert set(commands) == declared
    unavailable = {name: str(sub.get_default("command_unavailable")) for name, sub in commands.items()
                   if sub.get_default("command_unavailable")}
    assert unavailable == {}


def test_building_the_command_list_imports_no_server_browser_crypto_or_security_key_library() -> None:
    heavy = {"fastapi", "starlette", "uvicorn", "pydantic", "playwright", "websockets", "fido2", "asyncio",
             "cryptography"}
    probe = ("import sys; from native_host.cli import build_parser; build_parser(); "
             f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy!r})))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == ""


@pytest.fixture
def extra_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Declare one more part, written to a temp module, beside the real ones."""

    def declare(source: str, *, extras: str = "") -> None:
        (tmp_path / "extra_part_cmd.py").write_text(textwrap.dedent(source))
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.delitem(sys.modules, "extra_part_cmd", raising=False)
        point = CommandPoint("extra", f"extra_part_cmd:register{extras}")
        real = cli.command_entry_points()
        monkeypatch.setattr(cli, "command_entry_points", lambda: [*real, point])

    return declare


def test_a_part_whose_extra_is_missing_fails_alone_with_the_pip_line(extra_part, capsys) -> None:
    extra_part("import no_such_package_tracker2fa\n\ndef register(subparsers): pass\n", extras=" [nfc]")
    assert cli.main(["extra", "--anything"]) == cli.UNAVAILABLE_EXIT
    assert capsys.readouterr().err.strip() == (
        "tracker2fa: error: tracker2fa extra needs the 'nfc' extra: pip install 'tracker2fa[nfc]' "
        "(missing module: no_such_package_tracker2fa)")
    with pytest.raises(SystemExit) as shown:
        cli.main(["--help"])
    assert shown.value.code == 0
    listing = capsys.readouterr().out
    assert "vault" in listing and "unavailable: tracker2fa extra needs the 'nfc' extra" in " ".join(listing.split())


def test_a_part_whose_module_is_broken_leaves_the_other_sub_commands_working(extra_part, capsys) -> None:
    extra_part("raise RuntimeError('half-written module')\n")
    assert cli.main(["extra"]) == cli.UNAVAILABLE_EXIT
    assert "tracker2fa extra is unavailable: its module does not load (RuntimeError: half-written module)" in (
        capsys.readouterr().err)
    with pytest.raises(SystemExit) as shown:
        cli.main(["--help"])
    assert shown.value.code == 0 and "the encrypted TOTP vault" in capsys.readouterr().out


def test_a_handler_that_needs_a_missing_package_names_its_parts_extra(extra_part, capsys) -> None:
    extra_part("""
        def register(subparsers):
            subparsers.add_parser("extra").set_defaults(handler=run)

        def run(args):
            import no_such_package_tracker2fa.sub
    """, extras=" [verifier]")
    assert cli.main(["extra"]) == cli.UNAVAILABLE_EXIT
    assert "tracker2fa extra needs the 'verifier' extra: pip install 'tracker2fa[verifier]' (missing module: " \
           "no_such_package_tracker2fa)" in capsys.readouterr().err


def test_a_missing_module_of_our_own_packages_is_a_bug_not_a_missing_extra(extra_part, capsys, monkeypatch) -> None:
    extra_part("""
        def register(subparsers):
            subparsers.add_parser("extra").set_defaults(handler=run)

        def run(args):
            import native_host.no_such_module
    """, extras=" [verifier]")
    assert cli.main(["extra"]) == 1
    said = capsys.readouterr().err
    assert "unexpected ModuleNotFoundError" in said and "native_host.no_such_module" in said
    assert "pip install" not in said and "needs the" not in said  # not a missing extra
    monkeypatch.setenv("TRACKER2FA_DEBUG", "1")  # the traceback, for the bug report
    with pytest.raises(ModuleNotFoundError, match=r"native_host\.no_such_module"):
        cli.main(["extra"])
