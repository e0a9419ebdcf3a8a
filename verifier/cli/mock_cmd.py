"""``tracker2fa mock``: the mock tracker ("Jibra") with the real verifier, on loopback.

    tracker2fa mock [--port N] [--db URL] [--demo-user NAME:PASSWORD]...
                    [--behind-gate [--trusted-proxy ADDR]... [--allowed-host NAME]... [--gate-logout URL]]

Prints the URL (always http://localhost:PORT: WebAuthn refuses IP origins) and the demo credentials.
"""

from __future__ import annotations

import argparse

from ..errors import BadRequest
from . import reporting_errors

DEFAULT_PORT = 8080


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``mock`` sub-command."""
    parser = subparsers.add_parser(
        "mock",
        help="serve the mock tracker login page with the real verifier",
        description="Serve a Jira-like mock tracker on 127.0.0.1, reached as http://localhost:PORT, "
        "backed by the real verifier (SQLite by default). See docs/mock-tracker.md.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0 = any)")
    parser.add_argument("--db", metavar="URL",
                        help="verifier database: sqlite:///PATH or postgresql://... "
                        "(default: mock-verifier.db in the tracker2fa data directory)")
    parser.add_argument("--demo-user", metavar="NAME:PASSWORD", action="append", default=[],
                        help="seed one more user with no factor enrolled (repeatable)")
    gate = parser.add_argument_group("behind the tracker2fa gate (see docs/gate.md)")
    gate.add_argument("--behind-gate", action="store_true",
                      help="run as the gate's upstream: who is signed in is the proxy's Remote-User header")
    gate.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDR",
                      help="an address or network whose Remote-User is believed (repeatable; default loopback)")
    gate.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                      help="a host name the proxy serves the mock under, e.g. jira.example.com (repeatable)")
    gate.add_argument("--gate-logout", metavar="URL", help="where 'Log out' leads: the gate portal's /logout")
    parser.set_defaults(handler=reporting_errors(run))


def run(args: argparse.Namespace) -> int:
    """Seed the demo users, print how to log in, serve until interrupted."""
    # Lazily: the mock needs the extra's packages; a missing one is reported by the CLI core with the extra.
    from ..mock.demo import parse_demo_user
    from ..mock.server import serve

    if not 0 <= args.port <= 65535:
        raise BadRequest(f"--port must be 0-65535, got {args.port}")
    try:
        extra = [parse_demo_user(text) for text in args.demo_user]
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    behind_gate = None
    if args.behind_gate:
        behind_gate = _behind_gate(args)
    elif args.trusted_proxy or args.allowed_host or args.gate_logout:
        raise BadRequest("--trusted-proxy, --allowed-host and --gate-logout go with --behind-gate")
    serve(db_url=args.db, port=args.port, extra_users=extra, behind_gate=behind_gate,
          allowed_hosts=tuple(h.strip().lower() for h in args.allowed_host))
    return 0


def _behind_gate(args: argparse.Namespace):
    import ipaddress

    from ..mock.visit import BehindGate

    try:
        proxies = tuple(ipaddress.ip_network(p, strict=False) for p in args.trusted_proxy)
    except ValueError as exc:
        raise BadRequest(f"--trusted-proxy: {exc}") from None
    if args.gate_logout and not args.gate_logout.startswith(("https://", "http://")):
        raise BadRequest("--gate-logout wants the portal's logout URL, e.g. https://auth.example.com/logout")
    return BehindGate(proxies or BehindGate().proxies, args.gate_logout)
