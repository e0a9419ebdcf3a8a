"""``tracker2fa gate``: the forward-auth gate in front of a self-hosted tracker.

    tracker2fa gate serve --config gate.toml [--workers N] [--host H] [--port N] [--authz-port N]
    tracker2fa gate check-config gate.toml

Registered by the ``gate`` entry point of the ``tracker2fa.commands`` group (the ``verifier`` extra). Like
``verifier serve``, ``serve`` settles everything shared once, before any worker starts (the configuration,
checked whole; the database's migrations; the server key file of a SQLite database), then runs N worker
processes on one port under uvicorn's process manager. See docs/gate.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path

from ..errors import BadRequest, VerifierConfigError
from . import reporting_errors
from .databases import default_verifier_db_url


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``gate`` sub-command with ``serve`` and ``check-config``."""
    parser = subparsers.add_parser("gate", help="a second factor in front of any tracker (proxy forward auth)",
                                   description="The forward-auth gate: nginx auth_request, Traefik forwardAuth "
                                   "and Caddy forward_auth ask it about every request; its portal logs people in "
                                   "with the verifier's factors. See docs/gate.md.")
    sub = parser.add_subparsers(dest="gate_command", metavar="ACTION", required=True)
    serve = sub.add_parser("serve", help="serve the forward-auth endpoints and the login portal")
    serve.add_argument("--config", required=True, metavar="FILE", help="the gate's TOML configuration")
    serve.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                       help="worker processes on the port (default: the number of cores, here %(default)s)")
    serve.add_argument("--host", help="listen address (default: server.host of the configuration)")
    serve.add_argument("--port", type=int, help="the portal's TCP port (default: server.port of the configuration)")
    serve.add_argument("--authz-port", type=int, metavar="PORT",
                       help="the forward-auth check's own TCP port (default: server.authz_port; 0: none, the "
                       "check is then served on --port only)")
    serve.set_defaults(handler=reporting_errors(run_serve))
    check = sub.add_parser("check-config", help="check a configuration and say what it sets up")
    check.add_argument("config", metavar="FILE")
    check.set_defaults(handler=reporting_errors(run_check))


def _read(path: str):
    from ..gate.config import load_config

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise VerifierConfigError(f"cannot read the gate configuration {path}: "
                                  f"{getattr(exc, 'strerror', None) or exc}") from None
    return load_config(text, str(file))


def _summary(config) -> str:
    domains = "; ".join(f"{d.domain} (portal {d.portal})" for d in config.domains)
    return (f"domains: {domains}; first factor: {config.backend}; {len(config.access.rules)} access rules, "
            f"default {config.access.default_policy.value}; trusted proxies: "
            f"{', '.join(str(n) for n in config.trusted.networks) or 'none'}")


def _check_free(host: str, port: int, what: str) -> None:
    """Refuse a port another program holds now, rather than have every worker fail at startup (and before the
    database is created: a gate that cannot listen leaves nothing behind)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise BadRequest(f"cannot listen on {host}:{port} for {what}: {exc.strerror}; choose another port "
                             "(nothing was created)") from None


def run_check(args: argparse.Namespace) -> int:
    """Check the file; print what it sets up."""
    config = _read(args.config)
    print(f"{args.config}: OK ({_summary(config)})")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted, with ``--workers`` processes on one port."""
    import uvicorn  # the extra's packages, imported only to serve

    from ..gate.worker import CONFIG_ENV, DB_ENV, LISTEN_ENV, SOURCE_ENV
    from ..service import Verifier
    from ..store import open_store

    if args.workers < 1:
        raise BadRequest(f"--workers wants at least 1, got {args.workers}")
    config = _read(args.config)
    host = args.host or config.host
    port = config.port if args.port is None else args.port
    authz_port = config.authz_port if args.authz_port is None else args.authz_port
    for flag, value in (("--port", port), ("--authz-port", authz_port)):
        if not 0 <= value <= 65535:
            raise BadRequest(f"{flag} must be 0-65535, got {value}")
    if authz_port and authz_port == port:
        raise BadRequest("the forward-auth port must differ from the portal's port")
    _check_free(host, port, "the portal")
    if authz_port:
        _check_free(host, authz_port, "forward auth")
    db_url = config.database_url or default_verifier_db_url()
    store = open_store(db_url)  # migrations run here, once
    Verifier(store)  # resolves the server key: a SQLite database's key file is created now, not by racing workers
    store.close()
    os.environ[CONFIG_ENV] = config.text
    os.environ[SOURCE_ENV] = config.source
    os.environ[DB_ENV] = store.url
    if authz_port:
        os.environ[LISTEN_ENV] = json.dumps({"host": host, "port": authz_port})
    else:
        os.environ.pop(LISTEN_ENV, None)
    authz = f"forward auth on http://{host}:{authz_port}/api/authz/*; " if authz_port else ""
    print(f"tracker2fa gate: portal on http://{host}:{port}, {authz}{args.workers} worker(s) (database "
          f"{store.url.split('@')[-1]}; {_summary(config)})", file=sys.stderr)
    # proxy_headers off: the gate reads X-Forwarded-For itself, and only from server.trusted_proxies.
    uvicorn.run("verifier.gate.worker:create_gate_worker_app", factory=True, workers=args.workers, host=host,
                port=port, log_level="warning", lifespan="on", http="httptools", loop="uvloop",
                proxy_headers=False, server_header=False, access_log=False, timeout_graceful_shutdown=10)
    return 0
