#!/usr/bin/env python3
"""CPU per TOTP verification in process (``Verifier.verify_totp``, no HTTP), for two checkouts side by side.

    .venv/bin/python bench/totp_verify_cpu.py --baseline DIR [--users N] [--rounds R] [--skip-postgres]
    .venv/bin/python bench/totp_verify_cpu.py --mail [--users N] [--rounds R] [--skip-postgres]

Each round runs one child process per checkout (the baseline first, then this one), alternately, so both
see the same machine: the child seeds ``--users`` users through the seed importer (the path every
checkout has), verifies one fresh code for each, and prints the process CPU time per verification. CPU
time, not wall time, because on a shared machine other jobs stretch wall time but barely this process's
CPU time; the medians of the rounds are compared. ``--baseline`` is a checkout of the code to compare
against, e.g. ``git archive <commit> | tar -x -C /tmp/base``. ``--mail`` compares this checkout with mail to
users off against on (the admin's switch on, each user's network recorded by an earlier sign-in: the usual
sign-in with mail on), alternately in the same way.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def child(root: str, db: str, users: int, mail: bool = False) -> None:
    """Seed, verify once per user, print ``{"cpu_us": ..., "wall_us": ...}`` per verification."""
    sys.path.insert(0, root)
    import pyotp

    from verifier.seeds import import_seeds
    from verifier.service import Verifier, VerifierSettings
    from verifier.store import open_store

    key = secrets.token_bytes(32)
    secrets_by_user = {f"u{i}": pyotp.random_base32(32) for i in range(users)}
    csv = "username,secret\n" + "".join(f"{u},{s}\n" for u, s in secrets_by_user.items())
    store = open_store(db)
    try:
        import_seeds(store, csv.encode(), name="bench.csv", server_key=key)
        verifier = Verifier(store, VerifierSettings(server_key=key))
        if mail:  # on, and every user known to sign in from 192.0.0.0/16 (the address verified from below)
            verifier.update_notice_settings(enabled=True)
            with store.tx() as tx:
                tx.run_many("INSERT INTO sign_in_networks (username, network, first_seen) VALUES (?, ?, 0)",
                            [(u, "192.0.0.0/16") for u in secrets_by_user])
        bodies = [(u, pyotp.TOTP(s).now()) for u, s in secrets_by_user.items()]
        cpu, wall = time.process_time(), time.perf_counter()
        accepted = sum(verifier.verify_totp(u, code, "192.0.2.1", "bench").ok for u, code in bodies)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        store.close()
    print(json.dumps({"cpu_us": cpu / users * 1e6, "wall_us": wall / users * 1e6, "accepted": accepted}))


def pg_database() -> tuple[str, str]:
    import psycopg

    name = f"t2fa_cpu_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name


def drop_pg(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_child(root: Path, db: str, users: int, mail: bool = False) -> dict:
    env = {**os.environ, "TRACKER2FA_VERIFIER_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
    out = subprocess.run([sys.executable, __file__, "--child", str(root), "--db", db, "--users", str(users),
                          *(["--child-mail"] if mail else [])],
                         capture_output=True, text=True, env=env, check=True, cwd=root)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="the checkout to compare this one against")
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--mail", action="store_true", help="this checkout, mail off against mail on")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-mail", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.db, args.users, args.child_mail)
        return 0
    if args.baseline is None and not args.mail:
        parser.error("--baseline DIR (or --mail) is needed")
    # side name -> (checkout, mail on)
    sides = {"mail off": (HERE, False), "mail on": (HERE, True)} if args.mail else \
        {"baseline": (args.baseline.resolve(), False), "this": (HERE, False)}
    for kind in ("sqlite",) + (() if args.skip_postgres else ("postgresql",)):
        cpu: dict[str, list[float]] = {side: [] for side in sides}
        for round_no in range(1, args.rounds + 1):
            for side, (root, mail) in sides.items():
                with tempfile.TemporaryDirectory(prefix="t2fa-cpu-") as tmp:
                    name = None
                    if kind == "sqlite":
                        db = f"sqlite:///{tmp}/v.db"
                    else:
                        db, name = pg_database()
                    try:
                        result = run_child(root, db, args.users, mail)
                    finally:
                        if name:
                            drop_pg(name)
                assert result["accepted"] == args.users, result
                cpu[side].append(result["cpu_us"])
                print(f"# {kind} round {round_no} {side:8} {result['cpu_us']:7.1f} µs CPU, "
                      f"{result['wall_us']:7.1f} µs wall per verification", flush=True)
        (first, base), (second, this) = ((side, statistics.median(cpu[side])) for side in sides)
        print(f"{kind}: median CPU per verification {first} {base:.1f} µs, {second} {this:.1f} µs: "
              f"{second} / {first} = {this / base:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
