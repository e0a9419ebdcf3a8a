"""``tracker2fa pack``: the extension as a signed CRX3 with its update manifest and an XPI, or (``--deb``) the
host as a Debian package.

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
        help="package the extension (a CRX3 signed with your key, its gupdate XML, an XPI) or, with --deb, the host",
        description="Build tracker2fa-VERSION.crx (signed with --key; the extension id comes from that key), "
        "updates.xml for ExtensionInstallForcelist/ExtensionSettings update_url, and tracker2fa-VERSION.xpi. "
        "With --deb: a Debian package of the host, its dependencies and the CLI under /usr/lib/tracker2fa, "
        "which registers the host for every user and browser when installed (see docs/admin-guide.md).",
    )
    parser.add_argument("--key", type=Path, metavar="PEM", help="your RSA signing key (PEM)")
    parser.add_argument("--new-key", action="store_true", help="create the key file first (refuses to replace one)")
    parser.add_argument("--base-url", metavar="URL", help="where the files will be served (the CRX's folder URL)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder to write the files to")
    parser.add_argument("--extension", type=Path, metavar="DIR", help="the extension folder (default: this checkout's)")
    deb = parser.add_argument_group("the Debian package (--deb)")
    deb.add_argument("--deb", action="store_true", help="build tracker2fa_VERSION-1_ARCH.deb with dpkg-deb")
    deb.add_argument(
        "--wheel", type=Path, metavar="FILE", help="the tracker2fa wheel (default: built from this checkout)"
    )
    deb.add_argument(
        "--wheelhouse", type=Path, metavar="DIR", help="take every dependency from DIR (`pip wheel` output), offline"
    )
    deb.add_argument(
        "--extension-id",
        action="append",
        default=[],
        metavar="ID",
        help="an extension id the installed host allows (repeatable; default: the development extension's)",
    )
    deb.add_argument("--maintainer", metavar="'NAME <EMAIL>'", help="the package's Maintainer field")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.deb:
        return _run_deb(args)
    if args.key is None or args.base_url is None:
        from ..errors import BadRequest

        raise BadRequest("pack needs --key and --base-url for the extension (or --deb for the host package)")
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


def _run_deb(args: argparse.Namespace) -> int:
    from ..deploy.debian import DEFAULT_MAINTAINER, build_deb
    from ..deploy.manifest import as_deploy_error

    try:
        result = build_deb(
            args.out,
            wheel=args.wheel,
            wheelhouse=args.wheelhouse,
            extension_ids=args.extension_id,
            maintainer=args.maintainer or DEFAULT_MAINTAINER,
        )
    except OSError as exc:
        raise as_deploy_error(exc, "build the Debian package") from None
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    print(f"Debian package: {result.path}")
    print(f"  version {result.version} ({result.architecture}); runs on {result.python}")
    print(f"  depends on: {result.depends}")
    print("  install with `sudo dpkg -i` (or apt): it registers the host for every user and browser")
    return 0
