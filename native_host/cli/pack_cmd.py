"""``tracker2fa pack``: a signed CRX3 and its update manifest for Chromium browsers, and an XPI for Firefox.

Self-contained sub-command module: :func:`register` adds the parser, :func:`run` handles it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the pack sub-command."""
    parser = subparsers.add_parser(
        "pack",
        help="package the extension: a CRX3 signed with your key, its gupdate XML, and an XPI",
        description="Build tracker2fa-VERSION.crx (signed with --key; the extension id comes from that key), "
        "updates.xml for ExtensionInstallForcelist/ExtensionSettings update_url, and tracker2fa-VERSION.xpi.",
    )
    parser.add_argument("--key", type=Path, required=True, metavar="PEM", help="your RSA signing key (PEM)")
    parser.add_argument("--new-key", action="store_true", help="create the key file first (refuses to replace one)")
    parser.add_argument(
        "--base-url", required=True, metavar="URL", help="where the files will be served (the CRX's folder URL)"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder to write the files to")
    parser.add_argument("--extension", type=Path, metavar="DIR", help="the extension folder (default: this checkout's)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..deploy.managed_schema import extension_dir
    from ..deploy.manifest import as_deploy_error
    from ..deploy.pack import pack

    try:
        result = pack(args.extension or extension_dir(), args.key, args.out, args.base_url, new_key=args.new_key)
    except OSError as exc:
        raise as_deploy_error(exc, "pack the extension") from None
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    print(f"extension id:    {result.extension_id} (from {args.key})")
    print(f"CRX3:            {result.crx}")
    print(f"update manifest: {result.update_manifest}  (serve it; use its URL as update_url)")
    print(f"XPI:             {result.xpi}  (Firefox add-on {result.gecko_id}; sign it on AMO before release)")
    return 0
