"""``tracker2fa doctor``: what is registered where, what is wrong, and the fix for each problem.

Self-contained sub-command module: :func:`register` adds the parser, :func:`run` handles it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the doctor sub-command."""
    parser = subparsers.add_parser(
        "doctor",
        help="find why a browser cannot reach the host, and say how to fix it",
        description="Check every browser's host manifests (per user and system-wide), the native-messaging "
        "policies, sandboxes, the vault the browser-started host opens, and exchange hello with the host "
        "started as the browser starts it. Exits 1 when something is broken.",
    )
    parser.add_argument("--browser", action="append", default=[], metavar="NAME", help="check only this browser")
    parser.add_argument("--user-data-dir", type=Path, metavar="DIR", help="check a custom Chromium profile instead")
    parser.add_argument(
        "--system", action="store_true", help="check only the system-wide registration (install --system, the .deb)"
    )
    parser.add_argument("--host-path", type=Path, metavar="PATH", help="the tracker2fa-host executable to expect")
    parser.add_argument(
        "--browser-pid", type=int, metavar="PID", help="read the environment of this browser process (Linux)"
    )
    parser.add_argument("--no-probe", action="store_true", help="do not start the host to check that it answers")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..deploy.doctor import SHELL_SOURCE, doctor

    report = doctor(
        user_data_dir=args.user_data_dir,
        host_path=args.host_path,
        browsers=args.browser,
        probe=not args.no_probe,
        browser_pid=args.browser_pid,
        system=args.system,
    )
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return 1 if report.problems else 0
    print(f"host executable:    {report.host_path}")
    print(f"host configuration: {report.config_path}")
    print(f"  allowed Chromium extensions: {', '.join(report.allowed_chromium_ids) or 'none'}")
    print(f"  allowed Firefox add-ons:     {', '.join(report.allowed_firefox_ids) or 'none'}")
    print(f"browsers found:     {', '.join(report.installed_browsers) or 'none'}")
    for check in report.manifests:
        if not check.present and not check.problems:
            continue
        state = "ok" if not check.problems else "; ".join(check.problems)
        keys = f" (registry: {', '.join(check.registry)})" if check.registry else ""
        print(f"  {check.browser:11} {check.scope:6} {check.path}{keys}: {state}")
    vault = report.vault
    source = vault.get("browser_env_source")
    whose = ("this shell's environment: no running browser or desktop session to ask" if source == SHELL_SOURCE
             else f"the environment of {source}")
    print(f"vault (browser):    {vault.get('browser_path')}  ({whose})")
    print(f"vault (this shell): {vault.get('shell_path')}")
    answers = {True: "yes", False: "no", None: "not checked"}[report.host_answers]
    print(f"host answers hello: {answers}")
    for skipped in report.not_started:
        print(f"  not started: {skipped['program']} (named by {skipped['manifest']}): {skipped['reason']}")
    for note in report.notes:
        print(f"note: {note}")
    for problem in report.problems:
        print(f"PROBLEM: {problem.subject}: {problem.problem}")
        print(f"    fix: {problem.fix}")
    if report.problems:
        return 1
    if report.next_step:
        print(f"the host is set up; one step left: {report.next_step}")
    else:
        print("everything needed is in place")
    return 0
