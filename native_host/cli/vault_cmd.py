"""``tracker2fa vault ...``: create, fill, read and back up the encrypted TOTP vault.

Passwords come from a prompt (``getpass``) on a terminal, or with ``--password-stdin`` one per line of
standard input, in the order each command documents (see docs/cli.md). Without a terminal and without
``--password-stdin`` a command fails at once instead of waiting for input nobody will type.

The vault's file, model and importers are imported in the handlers that use them: this module is loaded to
build every ``tracker2fa`` parser, and ``VaultFile`` brings in cryptography.

Longer than our ~400-line guide on purpose: one small handler per ``vault`` sub-command next to its parser,
sharing the password and output helpers above them (the security-key sub-commands live in vault_key_cmd.py).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import EntryNotFound, ExportRefused, ImportNeedsPassword, VaultExists, VaultNotFound
from ..origins import bindable_origin, normalize_origin
from ..vault import default_vault_path

USAGE_EXIT = 2


class UsageError(Exception):
    """A command-line mistake the user can fix (exit code 2)."""


class Passwords:
    """Hands out passwords in order: from stdin lines with --password-stdin, else from getpass prompts."""

    def __init__(self, from_stdin: bool) -> None:
        self.from_stdin = from_stdin
        self.line = 0

    def get(self, prompt: str, *, confirm: bool = False) -> str:
        """The next password. ``confirm`` asks twice at a prompt (a new password)."""
        self.line += 1
        if self.from_stdin:
            raw = sys.stdin.readline()
            value = raw.rstrip("\n").rstrip("\r")
            if not value:
                raise UsageError(f"--password-stdin: expected {prompt.lower()} on line {self.line} of stdin")
            return value
        if not sys.stdin.isatty():
            raise UsageError(
                "no terminal to ask for a password on; pass --password-stdin and give the password on stdin"
            )
        value = getpass.getpass(f"{prompt}: ")
        if not value:
            raise UsageError("the password must not be empty")
        if confirm and getpass.getpass(f"{prompt} (again): ") != value:
            raise UsageError("the two passwords differ; nothing was changed")
        return value


# ---- helpers --------------------------------------------------------------------------------------------

# zxcvbn's 3 of 4, "safely unguessable" (at least 10^8 guesses): the vault file can be copied and attacked
# offline, slowed only by its KDF.
MIN_PASSWORD_SCORE = 3
WEAK_OVERRIDE = "--allow-weak-password"


def refuse_weak_password(password: str, args: argparse.Namespace) -> None:
    """Raise UsageError for a vault password that is easy to guess, unless ``--allow-weak-password``.

    zxcvbn (about 25 ms to import) is loaded here only, by the commands that set a password: never by the
    host or by the commands that only read the vault.
    """
    if args.allow_weak_password:
        return
    from zxcvbn import zxcvbn

    # zxcvbn refuses more than 72 characters: a longer password is judged by its start, which only errs low.
    verdict = zxcvbn(password[:72], user_inputs=["tracker2fa", "vault", "jira"])
    if verdict["score"] >= MIN_PASSWORD_SCORE:
        return
    feedback = verdict.get("feedback") or {}
    why = " ".join(part for part in (feedback.get("warning"), *feedback.get("suggestions", [])) if part)
    raise UsageError(
        f"this vault password is too easy to guess (strength {verdict['score']} of 4, at least "
        f"{MIN_PASSWORD_SCORE} needed){': ' + why if why else '.'} Choose a longer one, e.g. four or more "
        f"uncommon words; nothing was changed. For a throw-away vault in a script, add {WEAK_OVERRIDE}."
    )


NEW_PASSWORD_TRIES = 3  # at a prompt; with --password-stdin a weak password fails at once


def _new_password(passwords: Passwords, args: argparse.Namespace) -> str:
    """A new vault password (asked twice at a prompt) that the strength check lets through.

    At a prompt a weak one is explained and asked for again; from stdin it fails (UsageError), nothing changed.
    """
    tries = 1
    while True:
        password = passwords.get("New vault password", confirm=True)
        try:
            refuse_weak_password(password, args)
            return password
        except UsageError as exc:
            if passwords.from_stdin or tries == NEW_PASSWORD_TRIES:
                raise
            print(f"tracker2fa: {exc}", file=sys.stderr)
            tries += 1


def _vault_path(args: argparse.Namespace) -> Path:
    return Path(args.vault).expanduser() if args.vault else default_vault_path()


def _unlock(args: argparse.Namespace, passwords: Passwords) -> Any:
    from ..vault import VaultFile

    vault_file = VaultFile(_vault_path(args))
    if getattr(args, "security_key", False):  # touch an enrolled key instead (vault_key_cmd.py)
        from .vault_key_cmd import unlock_by_key

        return unlock_by_key(vault_file.path)
    if not vault_file.exists():
        raise VaultNotFound(f"no vault at {vault_file.path}; create one with `tracker2fa vault init`")
    return vault_file.unlock(passwords.get("Vault password"))


def _find(vault: Any, name: str) -> Any:
    """The entry ``name`` names; when none matches, the error says where to see the names and ids.

    (Several matches already list their ids.)
    """
    try:
        return vault.get(name)
    except EntryNotFound as exc:
        raise EntryNotFound(f"{exc.message}; `tracker2fa vault list` shows every entry's name and id") from None


def _emit(args: argparse.Namespace, data: dict[str, Any], human: str) -> None:
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif human:
        print(human)


def _describe(entry: Any) -> str:
    bound = ", ".join(entry.origins) if entry.origins else "no origin"
    return f"{entry.label} [{entry.kind}] (id {entry.id}) bound to {bound}"


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except UsageError as exc:
            print(f"tracker2fa: error: {exc}", file=sys.stderr)
            return USAGE_EXIT

    run.__doc__ = handler.__doc__
    return run


# ---- commands -------------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    """Create an empty vault. Password: line 1 of stdin (or a prompt, twice)."""
    from ..vault import VaultFile

    vault_file = VaultFile(_vault_path(args))
    if vault_file.path.exists():
        raise VaultExists(f"a vault already exists at {vault_file.path}; refusing to overwrite it")
    password = _new_password(Passwords(args.password_stdin), args)
    vault = vault_file.create(password, kdf=args.kdf, kdf_cost=args.kdf_cost)
    vault.lock()
    _emit(args, {"path": str(vault_file.path), "entries": 0}, f"Created an empty vault at {vault_file.path}")
    return 0


def _entry_from_args(args: argparse.Namespace) -> Any:
    from ..vault.entry import Entry, typed_secret

    if args.uri and args.secret:
        raise UsageError("give an otpauth:// URI or --secret, not both")
    if args.uri:
        from ..vault.otpauth import parse_otpauth_uri

        entry = parse_otpauth_uri(args.uri)
        for name in ("issuer", "account"):
            if getattr(args, name) is not None:
                setattr(entry, name, getattr(args, name))
        return entry
    if not args.secret:
        raise UsageError("give an otpauth:// URI, or --secret (with --issuer/--account) to add an entry by hand")
    return Entry(
        secret=typed_secret(args.secret),  # typed by hand: not cut short
        kind=args.kind,
        issuer=args.issuer or "",
        account=args.account or "",
        algorithm=args.algorithm,
        digits=args.digits,
        period=args.period,
        counter=args.counter,
    )


def cmd_add(args: argparse.Namespace) -> int:
    """Add one entry from a URI or from --secret. Password: line 1."""
    entry = _entry_from_args(args)
    entry.origins = [str(bindable_origin(o)) for o in args.origin]  # as the browser writes them; before the password
    entry.backup_codes = [{"code": c, "used": False} for c in args.backup_code]
    vault = _unlock(args, Passwords(args.password_stdin))
    try:
        added = vault.add(entry)
    finally:
        vault.lock()
    _emit(args, {"entry": added.public_dict()}, f"Added {_describe(added)}")
    return 0


def _is_tracker2fa_vault(path: Path) -> bool:
    """True when ``path`` looks like one of our own vault files (an encrypted backup to restore)."""
    try:
        with open(path, "rb") as f:
            head = f.read(200)
    except OSError:
        return False  # the importer reports the missing file with its own message
    return b'"format": "tracker2fa-vault"' in head


def cmd_import(args: argparse.Namespace) -> int:
    """Import a file from another app. Passwords: line 1 the vault, line 2 the file (only if encrypted)."""
    from ..vault.importers import detect_format, import_result, read_import_file

    origins = [str(bindable_origin(o)) for o in args.origin]  # bad input fails before the password is asked
    restore = args.format == "tracker2fa" or (args.format == "auto" and _is_tracker2fa_vault(args.file))
    if not restore:
        # Read and recognise the file first: one that is not an export fails before any password is asked.
        data = read_import_file(args.file)
        name = detect_format(data, args.format, args.file.name)
    passwords = Passwords(args.password_stdin)
    vault = _unlock(args, passwords)
    try:
        if restore:
            from ..vault import VaultFile

            backup = VaultFile(args.file).unlock(passwords.get("Password of the backup"))
            entries = backup.entries()
            backup.lock()
        else:
            try:
                entries = import_result(data, name, None, args.skip_invalid).entries
            except ImportNeedsPassword:
                file_password = passwords.get("Password of the import file")
                entries = import_result(data, name, file_password, args.skip_invalid).entries
        for entry in entries:
            entry.origins = [*entry.origins, *origins]
        added = vault.add_many(entries)
    finally:
        vault.lock()
    _emit(
        args,
        {"imported": len(added), "entries": [e.public_dict() for e in added]},
        f"Imported {len(added)} entr{'y' if len(added) == 1 else 'ies'} from {args.file}",
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export: --encrypted FILE (passwords: line 1 the vault, line 2 the backup) or --otpauth (plaintext)."""
    if bool(args.encrypted) == bool(args.otpauth):
        raise UsageError("choose one of --encrypted FILE or --otpauth")
    if args.otpauth and not args.i_understand_this_is_plaintext:
        raise ExportRefused(
            "--otpauth writes every secret in plain text; add --i-understand-this-is-plaintext to go ahead"
        )
    if args.encrypted and Path(args.encrypted).exists():
        raise VaultExists(f"{args.encrypted} already exists; choose a new file for the backup")
    passwords = Passwords(args.password_stdin)
    vault = _unlock(args, passwords)
    try:
        if args.encrypted:
            backup_password = passwords.get("Password for the backup", confirm=True)
            vault.export_encrypted(args.encrypted, backup_password, kdf_cost=args.kdf_cost)
            count = len(vault.entries())
            _emit(args, {"path": str(args.encrypted), "entries": count},
                  f"Wrote an encrypted backup of {count} entries to {args.encrypted}")
            return 0
        uris = vault.export_uris()
    finally:
        vault.lock()
    if args.output:
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("".join(u + "\n" for u in uris))
        _emit(args, {"path": str(args.output), "entries": len(uris)},
              f"Wrote {len(uris)} otpauth:// URIs (plain text) to {args.output}")
    elif args.json:
        _emit(args, {"uris": uris}, "")
    else:
        print("\n".join(uris))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List entries (never secrets). Password: line 1."""
    origin = normalize_origin(args.origin) if args.origin else None  # bad input fails before the password
    vault = _unlock(args, Passwords(args.password_stdin))
    try:
        entries = vault.entries_for_origin(origin) if origin else vault.entries()
    finally:
        vault.lock()
    if args.json:
        _emit(args, {"entries": [e.public_dict() for e in entries]}, "")
        return 0
    if not entries:
        print("No entries.")
        return 0
    width = max(len(e.label) for e in entries)
    for e in entries:
        print(f"{e.id}  {e.kind:5}  {e.label:{width}}  {', '.join(e.origins) or '-'}")
    return 0


def cmd_code(args: argparse.Namespace) -> int:
    """Print the current code of one entry, alone on its line. Password: line 1."""
    vault = _unlock(args, Passwords(args.password_stdin))
    try:
        entry = _find(vault, args.name)
        code, expires_in = vault.code(entry.id, None)
    finally:
        vault.lock()
    _emit(args, {"id": entry.id, "code": code, "expires_in": expires_in, "period": entry.period}, code)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Remove one entry (the previous file stays in vault.json.bak). Password: line 1."""
    vault = _unlock(args, Passwords(args.password_stdin))
    try:
        entry = _find(vault, args.name)
        vault.remove(entry.id)
    finally:
        vault.lock()
    _emit(args, {"removed": entry.id}, f"Removed {entry.label} (id {entry.id})")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    """Change an entry's issuer and/or account. Password: line 1."""
    fields = {k: v for k, v in (("issuer", args.issuer), ("account", args.account)) if v is not None}
    if not fields:
        raise UsageError("give --issuer and/or --account")
    vault = _unlock(args, Passwords(args.password_stdin))
    try:
        updated = vault.update(_find(vault, args.name).id, **fields)
    finally:
        vault.lock()
    _emit(args, {"entry": updated.public_dict()}, f"Renamed: {_describe(updated)}")
    return 0


def cmd_bind(args: argparse.Namespace) -> int:
    """Bind origins to an entry, or with --unbind remove them. Password: line 1."""
    # Bad input fails before the password is asked; an origin to unbind need only parse (it may predate the rules).
    wanted = [normalize_origin(o) if args.unbind else str(bindable_origin(o)) for o in args.origins]
    vault = _unlock(args, Passwords(args.password_stdin))
    try:
        entry = _find(vault, args.name)
        if args.unbind:
            entry = vault.update(entry.id, origins=[o for o in entry.origins if o not in wanted])
        else:
            for origin in wanted:
                entry = vault.bind_origin(entry.id, origin)
    finally:
        vault.lock()
    _emit(args, {"entry": entry.public_dict()}, _describe(entry))
    return 0


def cmd_backup_codes(args: argparse.Namespace) -> int:
    """Add the tracker's backup codes to an entry (--replace: instead of the old ones). Password: line 1."""
    codes = [c.strip() for c in args.codes]
    if any(not c for c in codes):
        raise UsageError("a backup code must not be empty")
    vault = _unlock(args, Passwords(args.password_stdin))
    try:
        entry = _find(vault, args.name)
        if codes or args.replace:
            kept = [] if args.replace else entry.backup_codes
            entry = vault.update(entry.id, backup_codes=[*kept, *({"code": c, "used": False} for c in codes)])
    finally:
        vault.lock()
    left = sum(1 for c in entry.backup_codes if not c.get("used"))
    _emit(args, {"id": entry.id, "backup_codes_left": left, "backup_codes_total": len(entry.backup_codes)},
          f"{entry.label}: {left} unused backup code{'s' if left != 1 else ''} of {len(entry.backup_codes)}")
    return 0


def cmd_passwd(args: argparse.Namespace) -> int:
    """Change the vault password: a new master key, the vault re-encrypted, its .bak replaced (copies made
    before still open with the old password; see docs/vault-format.md). Passwords: line 1 the current one,
    line 2 the new one."""
    from ..vault import VaultFile

    passwords = Passwords(args.password_stdin)
    vault_file = VaultFile(_vault_path(args))
    current = passwords.get("Current vault password")
    vault = vault_file.unlock(current)
    try:
        dropped = vault.change_password(current, _new_password(passwords, args))
    finally:
        vault.lock()
    human = "Password changed: new master key, vault re-encrypted, old backup replaced."
    if dropped:
        human += (f"\nRemoved {len(dropped)} key slot(s) that cannot follow a new key without their owner: "
                  f"{'; '.join(dropped)}. Add them again.")
    _emit(args, {"changed": True, "master_key_rotated": True, "dropped_slots": dropped}, human)
    return 0


# ---- registration ---------------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vault", metavar="PATH", help="the vault file (default: $TRACKER2FA_VAULT, else the "
                        "per-user data directory)")
    parser.add_argument("--password-stdin", action="store_true",
                        help="read password(s) from stdin, one per line (see docs/cli.md for the order)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _weak_password_override(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(WEAK_OVERRIDE, action="store_true",
                        help="accept a password the strength estimator (zxcvbn) finds easy to guess; for "
                        "throw-away vaults in scripts and tests only")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tracker2fa vault`` and its sub-commands."""
    vault = subparsers.add_parser(
        "vault", help="the encrypted TOTP vault", description="Create, fill, read and back up the TOTP vault."
    )
    commands = vault.add_subparsers(dest="vault_command", metavar="ACTION", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text, description=handler.__doc__)
        _common(parser)
        parser.set_defaults(handler=_guarded(handler))
        return parser

    init = command("init", cmd_init, "create an empty vault")
    init.add_argument("--kdf", choices=("scrypt", "argon2id"), default="scrypt", help="password KDF (default scrypt)")
    init.add_argument("--kdf-cost", choices=("default", "minimum"), default="default",
                      help="KDF cost preset; 'minimum' is for tests and benchmarks only")
    _weak_password_override(init)

    add = command("add", cmd_add, "add an entry from an otpauth:// URI or by hand")
    add.add_argument("uri", nargs="?", help="an otpauth:// URI")
    add.add_argument("--origin", action="append", default=[], metavar="ORIGIN",
                     help="an origin the code may be filled on, e.g. https://jira.example.com (repeatable)")
    add.add_argument("--secret", help="the Base32 secret (instead of a URI)")
    add.add_argument("--issuer", help="issuer (overrides the URI's)")
    add.add_argument("--account", help="account name (overrides the URI's)")
    add.add_argument("--kind", choices=("totp", "hotp", "steam"), default="totp")
    add.add_argument("--algorithm", choices=("SHA1", "SHA256", "SHA512"), default="SHA1")
    add.add_argument("--digits", type=int, default=6)
    add.add_argument("--period", type=int, default=30)
    add.add_argument("--counter", type=int, default=0)
    add.add_argument("--backup-code", action="append", default=[], metavar="CODE",
                     help="one of the tracker's backup codes for this account (repeatable)")

    imp = command("import", cmd_import, "import entries from another authenticator's export")
    imp.add_argument("file", type=Path, help="the export file")
    imp.add_argument("--format", default="auto",
                     help="the file's format (default: auto-detect); 'tracker2fa' restores a "
                     "`vault export --encrypted` backup")
    imp.add_argument("--skip-invalid", action="store_true", help="import the valid entries, skip the broken ones")
    imp.add_argument("--origin", action="append", default=[], metavar="ORIGIN",
                     help="bind every imported entry to this origin (repeatable)")

    exp = command("export", cmd_export, "write an encrypted backup, or otpauth:// URIs")
    exp.add_argument("--encrypted", type=Path, metavar="FILE", help="write a new vault file with its own password")
    exp.add_argument("--kdf-cost", choices=("default", "minimum"), default="default", help=argparse.SUPPRESS)
    exp.add_argument("--otpauth", action="store_true", help="print every entry as an otpauth:// URI (plain text)")
    exp.add_argument("--i-understand-this-is-plaintext", action="store_true",
                     help="confirm that --otpauth writes secrets unencrypted")
    exp.add_argument("--output", type=Path, metavar="FILE", help="with --otpauth: write to a new 0600 file")

    lst = command("list", cmd_list, "list entries (never their secrets)")
    lst.add_argument("--origin", help="only entries bound to this origin")

    code = command("code", cmd_code, "print an entry's current code")
    code.add_argument("name", metavar="NAME_OR_ID")

    remove = command("remove", cmd_remove, "remove an entry")
    remove.add_argument("name", metavar="NAME_OR_ID")

    rename = command("rename", cmd_rename, "change an entry's issuer or account")
    rename.add_argument("name", metavar="NAME_OR_ID")
    rename.add_argument("--issuer")
    rename.add_argument("--account")

    bind = command("bind", cmd_bind, "bind an entry to origins (or --unbind them)")
    bind.add_argument("name", metavar="NAME_OR_ID")
    bind.add_argument("origins", nargs="+", metavar="ORIGIN")
    bind.add_argument("--unbind", action="store_true", help="remove these origins instead")

    codes = command("backup-codes", cmd_backup_codes, "add (or --replace) an entry's tracker backup codes")
    codes.add_argument("name", metavar="NAME_OR_ID")
    codes.add_argument("codes", nargs="*", metavar="CODE", help="codes to add; none: just count the unused ones")
    codes.add_argument("--replace", action="store_true", help="drop the entry's old codes first")

    _weak_password_override(command("passwd", cmd_passwd, "change the vault password"))

    from . import vault_key_cmd  # no fido2 at import: it loads in the handlers

    vault_key_cmd.register(commands, _common, _guarded)
    for opener in (add, imp, exp, lst, code, remove, rename, bind, codes):  # every command that opens the vault
        vault_key_cmd.security_key_option(opener)

