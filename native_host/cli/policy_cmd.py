"""``tracker2fa policy``: ready-to-deploy admin policy files for one OS and browser.

Self-contained sub-command module: :func:`register` adds the parser, :func:`run` handles it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the policy sub-command."""
    parser = subparsers.add_parser(
        "policy",
        help="write admin policy files: force-install the extension, allow the host, push its settings",
        description="Generate the policy files for one OS and browser (Linux managed JSON, Windows .reg and "
        "ADMX/ADML, macOS .mobileconfig, Firefox policies.json). Settings are checked against the extension's "
        "managed schema; unknown keys are refused.",
    )
    parser.add_argument("--os", dest="os_name", required=True, choices=("linux", "macos", "windows"))
    parser.add_argument("--browser", required=True, choices=("chrome", "chromium", "edge", "firefox"))
    parser.add_argument("--extension-id", required=True, metavar="ID", help="the extension (or add-on) id")
    parser.add_argument(
        "--update-url",
        metavar="URL",
        help="Chromium family: the update manifest URL (default: the browser's store); Firefox: the .xpi URL",
    )
    parser.add_argument("--settings", type=Path, metavar="FILE", help="a JSON object of managed settings")
    parser.add_argument("--schema", type=Path, metavar="FILE", help="the managed schema (default: the extension's)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder to write the files to")
    parser.add_argument("--json", action="store_true", help="print the files written as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..atomic import write_file_atomically
    from ..deploy.managed_schema import load_schema, load_settings
    from ..deploy.manifest import as_deploy_error
    from ..deploy.policy import PolicyRequest, policy_files

    schema = load_schema(args.schema)
    settings = load_settings(args.settings, schema) if args.settings else {}
    request = PolicyRequest(args.os_name, args.browser, args.extension_id, args.update_url, settings)
    files = policy_files(request, schema)  # every check runs before anything is written
    written = []
    for policy in files:
        data = policy.content if isinstance(policy.content, bytes) else policy.content.encode("utf-8")
        try:
            path = write_file_atomically(args.out / policy.name, data, 0o644)
        except OSError as exc:
            raise as_deploy_error(exc, "write the policy files") from None
        written.append({"path": str(path), "destination": policy.destination})
    if args.json:
        print(json.dumps({"files": written}, indent=2))
    else:
        for item in written:
            print(f"{item['path']}\n    → {item['destination']}")
    return 0
