"""``tracker2fa install``, ``uninstall`` and ``doctor``: per-user registration of the native host."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--browser",
        action="append",
        default=[],
        metavar="NAME",
        help="chromium, chrome, edge, brave, vivaldi or firefox (repeatable; default: every browser found)",
    )
    parser.add_argument(
        "--user-data-dir",
        type=Path,
        metavar="DIR",
        help="a custom Chromium profile: the manifest goes into DIR/NativeMessagingHosts/",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the install, uninstall and doctor sub-commands."""
    install = subparsers.add_parser(
        "install",
        help="register the native host with your browsers (per user)",
        description="Write the native-messaging host manifest for each browser and the host's allowed "
        "extension ids. Without --extension-id the development extension is allowed.",
    )
    _add_common(install)
    install.add_argument(
        "--extension-id",
        action="append",
        default=[],
        metavar="ID",
        help="an extension id to allow (32 letters a–p for Chromium, name@domain for Firefox); repeatable",
    )
    install.add_argument("--host-path", type=Path, metavar="PATH", help="the tracker2fa-host executable to register")
    install.add_argument("--json", action="store_true", help="print the result as JSON")
    install.set_defaults(handler=run_install)

    uninstall = subparsers.add_parser("uninstall", help="remove the native host's manifests")
    _add_common(uninstall)
    uninstall.add_argument("--json", action="store_true", help="print the result as JSON")
    uninstall.set_defaults(handler=run_uninstall)

    doctor = subparsers.add_parser("doctor", help="say what is registered where, and what is wrong")
    doctor.add_argument("--user-data-dir", type=Path, metavar="DIR", help="check a custom Chromium profile instead")
    doctor.add_argument("--host-path", type=Path, metavar="PATH", help="the tracker2fa-host executable to check")
    doctor.add_argument("--no-probe", action="store_true", help="do not start the host to check that it answers")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.set_defaults(handler=run_doctor)


def run_install(args: argparse.Namespace) -> int:
    from ..deploy.registration import install

    written, config_path = install(
        args.browser, user_data_dir=args.user_data_dir, extension_ids=args.extension_id, host_path=args.host_path
    )
    if args.json:
        print(json.dumps({"config": str(config_path), "manifests": [vars(r) for r in written]}, indent=2))
    else:
        for reg in written:
            print(f"{reg.browser}: registered {reg.manifest}")
        print(f"host configuration: {config_path}")
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    from ..deploy.registration import uninstall

    removed = uninstall(args.browser, user_data_dir=args.user_data_dir)
    if args.json:
        print(json.dumps({"removed": [vars(r) for r in removed]}, indent=2))
    elif removed:
        for reg in removed:
            print(f"{reg.browser}: removed {reg.manifest}")
    else:
        print("nothing to remove: the host was not registered")
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    from ..deploy.registration import doctor

    report = doctor(user_data_dir=args.user_data_dir, host_path=args.host_path, probe=not args.no_probe)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return 1 if report.problems else 0
    print(f"host executable:    {report.host_path}")
    print(f"host configuration: {report.config_path}")
    print(f"  allowed Chromium extensions: {', '.join(report.allowed_chromium_ids) or 'none'}")
    print(f"  allowed Firefox add-ons:     {', '.join(report.allowed_firefox_ids) or 'none'}")
    print(f"browsers found:     {', '.join(report.installed_browsers) or 'none'}")
    for reg in report.registrations:
        state = "ok" if not reg.problems else "; ".join(reg.problems)
        print(f"  {reg.browser:9} {reg.manifest}: {state}")
    print(f"vault:              {report.vault_path or '?'} ({'exists' if report.vault_exists else 'missing'})")
    answers = {True: "yes", False: "no", None: "not checked"}[report.host_answers]
    print(f"host answers hello: {answers}")
    for note in report.notes:
        print(f"note: {note}")
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    if not report.problems:
        print("everything needed is in place")
    return 1 if report.problems else 0
