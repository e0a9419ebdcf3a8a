"""``tracker2fa install`` and ``uninstall``: register the native host with browsers, and undo it.

Self-contained sub-command module: :func:`register` adds the parsers, each handler imports lazily.
"""

from __future__ import annotations

import argparse
import json
import sys


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--browser",
        action="append",
        default=[],
        metavar="NAME",
        help="chromium, chrome, chrome-beta, chrome-dev, edge, brave, vivaldi or firefox "
        "(repeatable; default: every browser found)",
    )
    parser.add_argument(
        "--user-data-dir",
        metavar="DIR",
        help="a custom Chromium profile: the manifest goes into DIR/NativeMessagingHosts/",
    )
    parser.add_argument(
        "--system", action="store_true", help="for every user of the machine (needs root or Administrator)"
    )
    parser.add_argument(
        "--os",
        dest="os_name",
        choices=("linux", "macos", "windows"),
        help="the OS to plan for (default: this one); another OS needs --dry-run",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the install and uninstall sub-commands."""
    install = subparsers.add_parser(
        "install",
        help="register the native host with your browsers (per user, or --system)",
        description="Write the native-messaging host manifest for each browser (and on Windows the registry "
        "keys) and the host's allowed extension ids. Without --extension-id the development extension is "
        "allowed. --dry-run prints the plan without writing anything.",
    )
    _add_common(install)
    install.add_argument(
        "--extension-id",
        action="append",
        default=[],
        metavar="ID",
        help="an extension id to allow (32 letters a–p for Chromium, name@domain for Firefox); repeatable",
    )
    install.add_argument("--host-path", metavar="PATH", help="the tracker2fa-host executable to register")
    install.add_argument("--dry-run", action="store_true", help="print what would be written; write nothing")
    install.set_defaults(handler=run_install)

    uninstall = subparsers.add_parser(
        "uninstall",
        help="remove exactly what `tracker2fa install` wrote",
        description="Remove the host manifests, launchers, registry keys and config that `tracker2fa install` "
        "recorded in its receipt, for the same browsers, scope (per user or --system) and OS; files and folders "
        "it did not write are left alone. Only the places an install writes to are candidates, whatever the "
        "receipt says, and a receipt owned by another user is ignored. Your vault is never touched.",
    )
    _add_common(uninstall)
    uninstall.set_defaults(handler=run_uninstall)


def run_install(args: argparse.Namespace) -> int:
    from ..deploy.manifest import DeployError
    from ..deploy.registration import install

    if args.os_name and not args.dry_run:
        from ..deploy.platforms import current_os

        if args.os_name != current_os():
            raise DeployError(f"this machine is not {args.os_name}: add --dry-run to see the plan for it")
    try:
        plan = install(
            args.browser,
            system=args.system,
            os_name=args.os_name,
            dry_run=args.dry_run,
            user_data_dir=args.user_data_dir,
            extension_ids=args.extension_id,
            host_path=args.host_path,
        )
    except DeployError as exc:
        if not args.json:
            raise
        # Scripts reviewing a plan get the refusal in the same JSON shape as the plan, and exit 1.
        error = exc.to_json() if hasattr(exc, "to_json") else {"code": exc.code, "message": exc.message}
        print(json.dumps({"dry_run": args.dry_run, "error": error}, indent=2))
        print(f"tracker2fa: error: {exc.message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"dry_run": args.dry_run, **plan.to_json()}, indent=2))
        return 0
    verb = "would write" if args.dry_run else "wrote"
    for write in plan.files:
        print(f"{verb} {write.role:8} {write.path}  ({', '.join(write.browsers)})")
    for value in plan.registry:
        view = f" [{value.view}-bit view]" if value.view else ""
        print(f"{'would set' if args.dry_run else 'set'} {value.hive}\\{value.key}{view} = {value.value}")
    for note in plan.notes:
        print(f"note: {note}")
    if args.dry_run:
        print("dry run: nothing was written (add --json to see every file's content)")
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    from ..deploy.manifest import DeployError, as_deploy_error
    from ..deploy.registration import uninstall

    if args.os_name:
        from ..deploy.platforms import current_os

        if args.os_name != current_os():
            raise DeployError(f"this machine is not {args.os_name}")
    try:
        removal = uninstall(args.browser, system=args.system, user_data_dir=args.user_data_dir)
    except OSError as exc:
        raise as_deploy_error(exc, "remove the registration") from None
    if args.json:
        print(json.dumps({"removed": removal.removed, "kept": removal.kept, "notes": removal.notes}, indent=2))
        return 0
    for item in removal.removed:
        print(f"removed {item}")
    for item in removal.kept:
        print(f"kept    {item} (still needed by another browser)")
    for note in removal.notes:
        print(f"note: {note}")
    if not removal.removed:
        print("nothing to remove: the host was not registered")
    return 0
