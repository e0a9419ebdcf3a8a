#!/usr/bin/env python3
"""What one forward-auth check costs the gate, without nginx: CPU microseconds per check.

    .venv/bin/python bench/gate_check_bench.py [--db sqlite|postgres] [--checks 20000] [--seconds 5]

1. In process: ``Authz.check`` called directly, and through the ASGI edge, against a do-nothing ASGI app
   called the same way (the floor of the call itself). Every check reads a live two-factor session.
2. The dedicated listener (``authz_server``) under ``wrk`` (16 connections, one thread): the gate process's
   CPU (``process_time``, its threads included) per answered request, syscalls included.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIG = """\
[server]
trusted_proxies = ["127.0.0.1"]
[[domains]]
domain = "bench.localhost"
portal = "http://auth.bench.localhost:8000"
[access_control]
default_policy = "deny"
[[access_control.rules]]
domain = "app.bench.localhost"
resources = ["^/public/"]
policy = "bypass"
[[access_control.rules]]
domain = "app.bench.localhost"
policy = "two_factor"
"""
HEADERS = {b"x-original-url": "http://app.bench.localhost:8080/board", b"x-original-method": "GET",
           b"x-forwarded-for": "127.0.0.1"}


async def nothing(scope: dict, receive: object, send: object) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})  # type: ignore
    await send({"type": "http.response.body", "body": b""})  # type: ignore


async def in_process(app: object, token: str, checks: int) -> None:
    authz = app.authz  # type: ignore[attr-defined]
    headers = {**HEADERS, b"cookie": f"tracker2fa_session={token}"}
    scope = {"type": "http", "path": "/api/authz/auth-request", "method": "GET", "client": ("127.0.0.1", 5000),
             "headers": [(k, v.encode()) for k, v in headers.items()] + [(b"host", b"gate"), (b"user-agent", b"x")]}

    async def send(message: dict) -> None:
        pass

    assert authz.check("/api/authz/auth-request", "GET", "127.0.0.1", headers)[0] == 200
    for label, call in (("do-nothing ASGI app", lambda: nothing(scope, None, send)),
                        ("the check through its ASGI edge", lambda: app(scope, None, send)),  # type: ignore
                        ("Authz.check alone", None)):
        start = time.process_time()
        for _ in range(checks):
            if call is None:
                authz.check("/api/authz/auth-request", "GET", "127.0.0.1", headers)
            else:
                await call()
        print(f"{label:36} {(time.process_time() - start) / checks * 1e6:7.1f} µs of CPU per call")


async def listener(app: object, token: str, seconds: float, work: Path) -> None:
    from verifier.gate.authz_server import start_authz_server

    lua = work / "headers.lua"
    lua.write_text("".join(f'wrk.headers["{k.decode()}"] = "{v}"\n' for k, v in HEADERS.items())
                   + f'wrk.headers["Cookie"] = "tracker2fa_session={token}"\n')
    server = await start_authz_server(app.authz, "127.0.0.1", 0)  # type: ignore[attr-defined]
    port = server.sockets[0].getsockname()[1]
    start = time.process_time()
    proc = await asyncio.create_subprocess_exec("wrk", "-t1", "-c16", f"-d{round(seconds)}s", "-s", str(lua),
                                                f"http://127.0.0.1:{port}/api/authz/auth-request",
                                                stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    cpu = time.process_time() - start
    server.close()
    text = out.decode()
    requests = int(next(line for line in text.splitlines() if "requests in" in line).split()[0])
    rate = next(line for line in text.splitlines() if line.startswith("Requests/sec")).split()[1]
    print(f"{'the listener under wrk':36} {cpu / requests * 1e6:7.1f} µs of CPU per check ({rate} checks/s, "
          f"one process; non-2xx: {'none' if 'Non-2xx' not in text else 'SOME: ' + text})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--checks", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()

    from verifier.core.sessions import Level
    from verifier.gate.app import create_gate_app
    from verifier.gate.config import load_config
    from verifier.store import open_store

    work = Path(tempfile.mkdtemp(prefix="gate-check-"))
    pg_db = None
    if args.db == "postgres":
        import psycopg

        pg_db = f"gate_check_{secrets.token_hex(4)}"
        with psycopg.connect("postgresql://postgres@127.0.0.1/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_db}"')
        url = f"postgresql://postgres@127.0.0.1/{pg_db}"
    else:
        url = f"sqlite:///{work / 'gate.db'}"
    store = open_store(url)
    try:
        config = load_config(CONFIG)
        app = create_gate_app(config, store, server_key=secrets.token_bytes(32))
        verifier = app.context.verifiers["bench.localhost"]
        verifier.create_user("alice", groups=("developers",))
        token = verifier.sessions.start("alice", "bench.localhost", Level.TWO_FACTORS, "totp", config.timeouts,
                                        ip="127.0.0.1", user_agent="bench")
        print(f"# gate check bench: database {args.db}")
        if args.db == "sqlite":
            asyncio.run(in_process(app, token, args.checks))
        import uvloop

        uvloop.run(listener(app, token, args.seconds, work))
    finally:
        store.close()
        if pg_db:
            import psycopg

            with psycopg.connect("postgresql://postgres@127.0.0.1/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
