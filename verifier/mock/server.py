"""Start the mock tracker: open the store, seed the demo users, print how to log in, run uvicorn."""

from __future__ import annotations

import socket
import sys
from typing import TextIO

import uvicorn

from ..cli.databases import admin_command, default_mock_db_url
from ..errors import VerifierError
from ..service import Verifier
from ..store import open_store
from .app import create_mock_app
from .config import mock_settings
from .demo import SeededUser, seed
from .visit import BehindGate


def default_db_url() -> str:
    """``mock-verifier.db`` in the tracker2fa data directory; the store creates a missing directory 0700."""
    return default_mock_db_url()


def bind_loopback(port: int) -> socket.socket:
    """Bind 127.0.0.1:port before anything else, so port 0 resolves to a real port for the origin."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise VerifierError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}; choose another --port") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def describe(url: str, db_url: str, users: list[SeededUser], out: TextIO, policy_mode: str = "all") -> None:
    """Print the URL and the demo credentials (demo data only; real secrets are never printed)."""
    print(f"Jibra mock tracker: {url}/  (use localhost: security keys refuse IP addresses)", file=out)
    print(f"verifier database: {db_url}", file=out)
    print(f"admin page: {url}/admin (user admin)", file=out)
    print(f"admin CLI on this database: {admin_command(db_url)}", file=out)
    print("demo users (username / password):", file=out)
    for u in users:
        note = "" if u.created else " (already existed; left unchanged)"
        print(f"  {u.username} / {u.password}  groups: {', '.join(u.groups) or '-'}{note}", file=out)
        if u.totp_uri:
            print(f"    TOTP enrolled now; add to your authenticator: {u.totp_uri}", file=out)
            print(f"    backup codes: {' '.join(u.backup_codes)}", file=out)
    if policy_mode == "all":
        print("users without a factor enrol TOTP at their first login (policy: required for everyone).", file=out)
    else:
        print(f"policy mode: {policy_mode} (change it on the admin page)", file=out)
    out.flush()


def serve(*, db_url: str | None, port: int, extra_users: list[tuple[str, str]], out: TextIO = sys.stdout,
          behind_gate: BehindGate | None = None, allowed_hosts: tuple[str, ...] = ()) -> None:
    """Run the mock tracker until interrupted (``behind_gate``: as an upstream of the tracker2fa gate)."""
    db_url = db_url or default_db_url()
    sock = bind_loopback(port)
    port = sock.getsockname()[1]
    url = f"http://localhost:{port}"
    verifier = Verifier(open_store(db_url), mock_settings(port))
    users = seed(verifier, extra_users)
    # The mock calls the verifier in process, so it needs no service token; the verifier's JSON API is not
    # mounted (run `tracker2fa verifier serve --db` on the same database for it, with its own token).
    app = create_mock_app(verifier, behind_gate=behind_gate, allowed_hosts=("localhost", *allowed_hosts))
    describe(url, db_url, users, out, policy_mode=verifier.get_policy().mode)
    if behind_gate is not None:
        proxies = ", ".join(str(n) for n in behind_gate.proxies)
        print(f"behind the gate: signed in by Remote-User from {proxies}; hosts served: "
              f"{', '.join(('localhost', *allowed_hosts))}; log out: {behind_gate.logout_url or '-'}", file=out)
        out.flush()
    config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", lifespan="off", proxy_headers=False)
    uvicorn.Server(config).run(sockets=[sock])

