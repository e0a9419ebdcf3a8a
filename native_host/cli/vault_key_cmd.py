"""``tracker2fa vault key add | list | remove`` and ``--security-key``: the vault opened by touching a key.

A key is enrolled in a ``fido2-prf`` slot (docs/vault-format.md): its hmac-secret output wraps the master
key, and the password slot stays. The keys are those ``fido.devices`` lists: USB, NFC (with pyscard) and
the developer's virtual key (``TRACKER2FA_VIRTUAL_KEY``). fido2 is imported only by these commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import VaultNotFound


def _on_event(name: str, details: dict[str, Any]) -> None:
    """Prompts on stderr (stdout stays for the result)."""
    messages = {"fido.touch": "Touch your security key…", "fido.key_removed": "The security key was removed.",
                "fido.key_busy": "The security key is busy with another request; waiting…"}
    if name in messages:
        print(messages[name], file=sys.stderr, flush=True)


@contextmanager
def _keys() -> Iterator[list[Any]]:
    from ..fido.service import FidoService

    service = FidoService()
    try:
        yield service.keys()
    finally:
        service.close()


def unlock_by_key(path: Path) -> Any:
    """The vault at ``path`` unlocked by touching an enrolled security key."""
    from ..fido.vault_key import unlock_vault
    from ..vault import VaultFile

    vault_file = VaultFile(path)
    if not vault_file.exists():
        raise VaultNotFound(f"no vault at {path}; create one with `tracker2fa vault init`")
    with _keys() as keys:
        return unlock_vault(vault_file, keys, on_event=_on_event)


def cmd_key_add(args: argparse.Namespace) -> int:
    """Enrol a security key: the vault's password (line 1 of stdin, or --security-key with a key already
    enrolled), then two touches of the new key."""
    from ..fido.vault_key import enrol_in_vault
    from ..vault.key_slot import checked_name
    from .vault_cmd import Passwords, _emit, _unlock

    if args.name is not None:
        checked_name(args.name)  # before the password is asked
    vault = _unlock(args, Passwords(args.password_stdin))
    try:
        with _keys() as keys:
            slot = enrol_in_vault(vault, keys, name=args.name, on_event=_on_event)
    finally:
        vault.lock()
    from ..vault.key_slot import public_view

    _emit(args, {"added": public_view(slot)},
          f"Enrolled {slot['name']!r} (key slot {slot['id']}): `--security-key` now opens the vault with it; "
          "the password still does.")
    return 0


def cmd_key_list(args: argparse.Namespace) -> int:
    """List the security keys enrolled (read from the file's header: no password needed)."""
    from ..vault import store
    from ..vault.format import parse_vault
    from ..vault.key_slot import public_view
    from .vault_cmd import _emit, _vault_path

    slots = [public_view(s) for s in parse_vault(store.read_vault_bytes(_vault_path(args))).key_slots()]
    lines = [f"{s['id']}  {s['name']}" for s in slots] or ["No security key is enrolled (`tracker2fa vault key add`)."]
    _emit(args, {"keys": slots}, "\n".join(lines))
    return 0


def cmd_key_remove(args: argparse.Namespace) -> int:
    """Remove an enrolled security key by its slot id (or its first 4+ characters). Password: line 1 (or
    --security-key). The password slot stays."""
    from .vault_cmd import Passwords, UsageError, _emit, _unlock

    if len(args.id) < 4:
        raise UsageError("give the key slot's id (at least its first 4 characters; see `vault key list`)")
    vault = _unlock(args, Passwords(args.password_stdin))
    try:
        removed = vault.remove_key_slot(args.id)
    finally:
        vault.lock()
    _emit(args, {"removed": removed["id"]}, f"Removed the key slot {removed['id']} ({removed['name']!r}).")
    return 0


def security_key_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--security-key", action="store_true",
                        help="open the vault by touching an enrolled security key instead of typing the password "
                        "(later passwords on stdin then start at line 1)")


def register(commands: argparse._SubParsersAction, common: Any, guarded: Any) -> None:
    """Add ``vault key`` and its sub-commands under the ``vault`` parser's ``commands``."""
    key = commands.add_parser("key", help="security keys that open the vault (FIDO2 hmac-secret)",
                              description="Enrol, list and remove the security keys that open the vault.")
    actions = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)

    def action(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text, description=handler.__doc__)
        common(parser)
        parser.set_defaults(handler=guarded(handler))
        return parser

    add = action("add", cmd_key_add, "enrol a security key (two touches)")
    add.add_argument("--name", help="what to call the key (default: the key's own name)")
    security_key_option(add)
    action("list", cmd_key_list, "list the enrolled security keys")
    remove = action("remove", cmd_key_remove, "remove an enrolled security key")
    remove.add_argument("id", metavar="ID", help="the key slot's id from `vault key list` (4+ characters)")
    security_key_option(remove)
