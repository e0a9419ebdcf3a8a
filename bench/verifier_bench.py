#!/usr/bin/env python3
"""Verifier throughput side by side with its baselines, in one run on this machine, driven by ``wrk``.

    .venv/bin/python -u bench/verifier_bench.py [--seconds S] [--connections C] [--workers N]
        [--only minimal|tracker2fa|privacyidea|nodes|same-code|webauthn|soak|notifications]... [--skip-postgres]
        [--soak-seconds S] [--rounds N]

``wrk`` (Debian's package, C) sends the requests with ``bench/totp_fresh.lua``: every request is the next
line of a file of pre-computed bodies, each a fresh valid TOTP code of a distinct user, so each request
takes the accepting path (tracker2fa: decrypt the secret, check the window, compare-and-set the replay
ledger, clear the failure counters, write the audit row). Every system runs the same number of worker
processes (``--workers``, default 2) on one port:

- minimal: FastAPI + pyotp + one ``UPDATE … WHERE last_step < ?`` (bench/minimal_totp_app.py), uvicorn
  with httptools and uvloop, on SQLite and on PostgreSQL, through two routes: ``fast`` written like the
  verifier's hot routes (the baseline of the ratios) and ``plain`` as FastAPI's tutorial writes it;
- tracker2fa: ``tracker2fa verifier serve --workers N`` (every rule on), users created by the seed
  importer (``verifier.seeds.import_seeds``, the path ``verifier admin import`` takes);
- privacyIDEA (PyPI, own venv, bench/privacyidea_setup.sh): gunicorn -w N, SQLite, /validate/check;
- nodes: one ``serve --workers 1`` against two of them on one PostgreSQL database (one wrk per node);
- same-code: the same code sent to two nodes at once, ``--trials`` times (Python threads: wrk cannot
  send one body to two servers at once);
- webauthn: server CPU per assertion (begin + complete; keys registered by the host's software key,
  assertions signed by bench/fast_signer.py) against server CPU per TOTP verification, same server and
  same client;
- soak: ``--soak-seconds`` at 80 % of the measured capacity (wrk with a per-connection delay), RSS of the
  workers sampled, audit rows counted against accepted requests;
- notifications: tracker2fa's TOTP verifications with mail to users off (the default) against mail on (the
  admin's switch in the database, and ``serve --smtp-host`` running the sender against a local sink), in
  alternating rounds (``--rounds``): users who signed in from their network before (the usual sign-in, the
  ≥ 95 % aim), users' first recorded sign-in (the network is written, no mail), and a sign-in from a new
  network (the network and an outbox mail written, the mail delivered meanwhile).

Ratios are against baselines measured in the same run; each figure is printed as soon as it is measured.
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyotp

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

PY = sys.executable
LUA = BENCH / "totp_fresh.lua"
PI_DIR = Path(os.environ.get("PI_DIR", Path.home() / ".cache/tracker2fa-bench/privacyidea"))
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BENCH_DB = "tracker2fa_bench"
SERVICE_TOKEN = base64.urlsafe_b64encode(os.urandom(24)).decode()
SERVICE_AUTH = f"Bearer {SERVICE_TOKEN}"
WRK_THREADS = 2


# ---- wrk ---------------------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    ok: int
    bad: int
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    wrapped: int = 0
    server_cpu_ms: float | None = None  # per accepted request, where measured

    @property
    def ok_rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (f"{self.label:58} {self.ok_rate:8.0f} ok/s  p50 {self.p50_ms:7.1f} ms  p99 {self.p99_ms:7.1f} ms  "
                f"ok {self.ok} bad {self.bad} errors {self.errors}" + (" (bodies wrapped!)" if self.wrapped else ""))


def write_bodies(path: Path, bodies: Sequence[str]) -> Path:
    path.write_text("\n".join(bodies) + "\n")
    return path


def wrk(url: str, bodies: Path, *, connections: int, seconds: float, label: str, ok_pattern: str = '"ok":%s*true',
        auth: str | None = None, content_type: str = "application/json", delay_ms: float = 0) -> Result:
    """One wrk run over ``bodies``; the Lua script reports accepted answers and latency percentiles."""
    env = {**os.environ, "BODIES": str(bodies), "WRK_THREADS": str(WRK_THREADS), "OK_PATTERN": ok_pattern,
           "CONTENT_TYPE": content_type, "DELAY_MS": str(delay_ms)}
    if auth:
        env["AUTH"] = auth
    out = subprocess.run(["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                          "--timeout", "10s", "-s", str(LUA), url], env=env, capture_output=True, text=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    data = json.loads(line.removeprefix("WRKJSON "))
    result = Result(label, data["ok"], data["bad"], data["requests"], data["duration_us"] / 1e6, data["errors"],
                    data["p50_us"] / 1000, data["p99_us"] / 1000, data["wrapped"])
    print("# " + result.line(), flush=True)
    return result


def wrk_parallel(runs: list[dict]) -> list[Result]:
    """Several wrk runs at the same time (one per node)."""
    results: list[Result | None] = [None] * len(runs)

    def run(i: int) -> None:
        results[i] = wrk(**runs[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(runs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]


# ---- processes ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.args}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url}: {proc.args}")


class Servers:
    """Starts server processes in their own process groups and always stops them (by pid)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd: Sequence[str], ready_url: str, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(proc)
        try:
            wait_http(ready_url, proc)
        except RuntimeError:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"could not start {' '.join(cmd)}\n{err}") from None
        time.sleep(1.0)  # every worker of the manager up, not only the first
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def group_pids(pgid: int) -> list[int]:
    """Every live process of a process group (a server's manager and its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of a process group so far."""
    total = 0
    for pid in group_pids(pgid):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (not idle or waiting on I/O) since boot, all cores."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def rss_kib(pgid: int) -> int:
    total = 0
    for pid in group_pids(pgid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh benchmark database of its own on the local PostgreSQL, dropped afterwards; yields its URL."""
    import psycopg

    name = f"{PG_BENCH_DB}_{os.urandom(4).hex()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# ---- systems -----------------------------------------------------------------------------------------


def new_users(prefix: str, n: int) -> list[tuple[str, bytes]]:
    return [(f"{prefix}{i:07d}", os.urandom(20)) for i in range(n)]


def code_now(secret: bytes) -> str:
    return pyotp.TOTP(base64.b32encode(secret).decode()).now()


def totp_bodies(users: Sequence[tuple[str, bytes]], ip: str | None = "127.0.0.1") -> list[str]:
    """Request bodies; ``ip=None`` gives each user an address of its own (10.x.y.z), as a tracker would pass."""
    return [json.dumps({"username": u, "code": code_now(s), "user_agent": "wrk",
                        "ip": ip or f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"}) for i, (u, s) in enumerate(users)]


def seed_tracker2fa(db_url: str, key: str, users: Sequence[tuple[str, bytes]]) -> float:
    """Create the users through the seed importer; returns the seconds it took."""
    from verifier.seeds import import_seeds
    from verifier.store import open_store

    data = "username,secret\n" + "".join(f"{u},{base64.b32encode(s).decode()}\n" for u, s in users)
    store = open_store(db_url)
    try:
        t0 = time.perf_counter()
        report = import_seeds(store, data.encode(), name="bench.csv", server_key=key)
        took = time.perf_counter() - t0
    finally:
        store.close()
    if report.rejected or report.imported != len(users):
        raise RuntimeError(f"seed import failed: {report.to_dict()['rejected'][:3]}")
    return took


def start_tracker2fa(servers: Servers, db_url: str, key: str, workers: int,
                     extra: Sequence[str] = ()) -> tuple[str, subprocess.Popen]:
    port = free_port()
    proc = servers.start([PY, "-m", "native_host", "verifier", "serve", "--db", db_url, "--port", str(port),
                          "--workers", str(workers), "--origin", "http://localhost", *extra],
                         f"http://127.0.0.1:{port}/healthz",
                         env={"TRACKER2FA_VERIFIER_KEY": key, "TRACKER2FA_SERVICE_TOKEN": SERVICE_TOKEN,
                              "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    return f"http://127.0.0.1:{port}", proc


def bench_minimal(tmp: Path, db_url: str, label: str, args: argparse.Namespace) -> dict[str, Result]:
    """The minimal endpoint's two routes on one server: ``plain`` (FastAPI's tutorial style) and ``fast``
    (the verifier's hot-route technique), each with fresh users."""
    from minimal_totp_app import create_users

    users = new_users("m", 2 * args.users)
    create_users(db_url, [(u, base64.b32encode(s).decode()) for u, s in users])
    port = free_port()
    results = {}
    with Servers() as servers:
        servers.start([PY, "-m", "uvicorn", "--app-dir", str(BENCH), "minimal_totp_app:app", "--port", str(port),
                       "--workers", str(args.workers), "--http", "httptools", "--loop", "uvloop",
                       "--log-level", "warning", "--no-access-log"], f"http://127.0.0.1:{port}/docs",
                      env={"MINIMAL_DB": db_url})
        for name, path, share in (("fast", "/verify-fast", users[:args.users]),
                                  ("plain", "/verify", users[args.users:])):
            bodies = write_bodies(tmp / f"minimal-{name}.bodies", [json.dumps({"username": u, "code": code_now(s)})
                                                                   for u, s in share])
            results[name] = wrk(f"http://127.0.0.1:{port}{path}", bodies, connections=args.connections,
                                seconds=args.seconds, label=f"minimal {label} ({name} route), {args.workers} workers")
    return results


def bench_tracker2fa(tmp: Path, db_url: str, label: str, args: argparse.Namespace) -> Result:
    key = base64.b64encode(os.urandom(32)).decode()
    users = new_users("t", args.users)
    took = seed_tracker2fa(db_url, key, users)
    print(f"# seed import of {len(users)} users ({label}): {took:.1f} s", flush=True)
    with Servers() as servers:
        base, proc = start_tracker2fa(servers, db_url, key, args.workers)
        bodies = write_bodies(tmp / "t2fa.bodies", totp_bodies(users))
        cpu0 = cpu_seconds(proc.pid)
        result = wrk(f"{base}/v1/totp/verify", bodies, connections=args.connections, seconds=args.seconds,
                     label=f"tracker2fa {label}, {args.workers} workers", auth=SERVICE_AUTH)
        # Server CPU per accepted verification: other jobs on the machine stretch wall time (ok/s) far more
        # than the CPU each request costs, so this is the figure to compare two versions by on a busy machine.
        result.server_cpu_ms = (cpu_seconds(proc.pid) - cpu0) / max(result.ok, 1) * 1000
        print(f"# tracker2fa {label}: {result.server_cpu_ms:.3f} ms server CPU per accepted verification "
              "(manager and workers)", flush=True)
        return result


def _record_networks(db_url: str, rows: Sequence[tuple[str, str]]) -> None:
    """Write users' earlier sign-in networks straight into the database (what their earlier sign-ins wrote)."""
    from verifier.store import open_store

    store = open_store(db_url)
    try:
        with store.tx() as tx:
            tx.run_many("INSERT INTO sign_in_networks (username, network, first_seen) VALUES (?, ?, 0)", rows)
    finally:
        store.close()


def _outbox_counts(db_url: str) -> dict[str, int]:
    from verifier.store import open_store

    store = open_store(db_url)
    try:
        return store.outbox_counts()
    finally:
        store.close()


def _mail_on(db_url: str) -> None:
    """The admin's switch on, and every user an address (so a new network's mail is delivered, not dropped)."""
    from verifier.store import open_store

    store = open_store(db_url)
    try:
        store.set_setting("notices", json.dumps({"enabled": True}))
        with store.tx() as tx:
            tx.run("UPDATE users SET email = username || '@example.com'")
    finally:
        store.close()


def bench_notifications(tmp: Path, db_url_of, label: str, args: argparse.Namespace) -> dict:
    """TOTP verifications per second and server CPU per verification, mail off against mail on, alternately.

    Each run has fresh users on a fresh database (``db_url_of()``); ``on`` turns the admin's mail switch on
    and runs ``serve`` with a relay (a local aiosmtpd sink), so the sender thread lives in the manager process
    as in a deployment. Cases with mail on: ``known`` (each user's network recorded before: the usual
    sign-in), ``first`` (nothing recorded: each verification records its network), ``new`` (another network
    recorded: each verification records this one and writes a mail, which the sender delivers).
    """
    from verifier.core.notices import network_of
    from verifier.mail.sink import Sink

    sink = Sink(tmp / f"bench-mail-{label}").start()
    cases = ("off", "known", "first", "new")
    results: dict[str, list[Result]] = {case: [] for case in cases}
    try:
        for round_no in range(1, args.rounds + 1):
            order = cases if round_no % 2 else tuple(reversed(cases))
            for case in order:
                with db_url_of() as db_url:
                    key = base64.b64encode(os.urandom(32)).decode()
                    users = new_users(f"n{round_no}{case[0]}", args.users)
                    seed_tracker2fa(db_url, key, users)
                    bodies = totp_bodies(users, ip=None)
                    if case != "off":
                        _mail_on(db_url)
                    if case == "known":
                        _record_networks(db_url, [(u, network_of(json.loads(b)["ip"])) for (u, _s), b in
                                                  zip(users, bodies, strict=True)])
                    elif case == "new":
                        _record_networks(db_url, [(u, "192.0.0.0/16") for u, _s in users])
                    with Servers() as servers:
                        extra = [] if case == "off" else [
                            "--smtp-host", sink.host, "--smtp-port", str(sink.port), "--smtp-security", "none",
                            "--mail-from", "bench@example.com", "--mail-poll", "1"]
                        base, proc = start_tracker2fa(servers, db_url, key, args.workers, extra)
                        path = write_bodies(tmp / f"notify-{case}.bodies", bodies)
                        cpu0 = cpu_seconds(proc.pid)
                        result = wrk(f"{base}/v1/totp/verify", path, connections=args.connections,
                                     seconds=args.seconds, label=f"tracker2fa {label}, mail {case}, round {round_no}",
                                     auth=SERVICE_AUTH)
                        result.server_cpu_ms = (cpu_seconds(proc.pid) - cpu0) / max(result.ok, 1) * 1000
                        print(f"# mail {case} {label} round {round_no}: {result.server_cpu_ms:.3f} ms server CPU per "
                              "accepted verification", flush=True)
                        results[case].append(result)
                    if case != "off":
                        print(f"# mail {case} {label} round {round_no}: outbox {_outbox_counts(db_url)}", flush=True)
    finally:
        sink.stop()
    import statistics

    summary = {}
    for case in cases:
        summary[case] = {"ok_per_s": statistics.median(r.ok_rate for r in results[case]),
                         "cpu_ms": statistics.median(r.server_cpu_ms for r in results[case])}
    for case in cases[1:]:
        summary[case]["ok_ratio"] = summary[case]["ok_per_s"] / summary["off"]["ok_per_s"]
        summary[case]["cpu_ratio"] = summary[case]["cpu_ms"] / summary["off"]["cpu_ms"]
        print(f"mail {case} vs off ({label}, medians of {args.rounds}): {summary[case]['ok_per_s']:.0f} vs "
              f"{summary['off']['ok_per_s']:.0f} ok/s = {summary[case]['ok_ratio']:.3f}; server CPU "
              f"{summary[case]['cpu_ms']:.3f} vs {summary['off']['cpu_ms']:.3f} ms = {summary[case]['cpu_ratio']:.3f}",
              flush=True)
    summary["mails_delivered"] = sink.count()
    return summary


def _pi_post(port: int, path: str, data: dict[str, str], token: str | None = None) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=urllib.parse.urlencode(data).encode(),
                                 headers={"Authorization": token} if token else {})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def bench_privacyidea(tmp: Path, args: argparse.Namespace) -> Result | str:
    out = subprocess.run(["bash", str(BENCH / "privacyidea_setup.sh")], capture_output=True, text=True,
                         env={**os.environ, "PI_DIR": str(PI_DIR)})
    if out.returncode != 0:
        return f"privacyidea_setup.sh failed: {out.stderr.strip()[-500:]}"
    version = next((ln.split(": ")[1] for ln in out.stdout.splitlines() if ln.startswith("privacyidea version")), "?")
    port = free_port()
    with Servers() as servers:
        servers.start([str(PI_DIR / "venv/bin/gunicorn"), "-w", str(args.workers), "--timeout", "600", "-b",
                       f"127.0.0.1:{port}", "privacyidea.app:create_app()"], f"http://127.0.0.1:{port}/",
                      env={"PRIVACYIDEA_CONFIGFILE": str(PI_DIR / "pi.cfg")})
        jwt = _pi_post(port, "/auth", {"username": "benchadmin",
                                       "password": (PI_DIR / "admin-password").read_text().strip()})
        jwt = jwt["result"]["value"]["token"]
        tokens = []
        for i in range(args.pi_tokens):
            raw = os.urandom(20)
            _pi_post(port, "/token/init", {"type": "totp", "otpkey": raw.hex(), "serial": f"B{i}", "genkey": "0"},
                     jwt)
            tokens.append((f"B{i}", raw))
        bodies = write_bodies(tmp / "pi.bodies", [urllib.parse.urlencode({"serial": s, "pass": code_now(raw)})
                                                  for s, raw in tokens])
        return wrk(f"http://127.0.0.1:{port}/validate/check", bodies, connections=args.connections,
                   seconds=args.seconds, label=f"privacyIDEA {version} sqlite, gunicorn -w {args.workers}",
                   ok_pattern='"value":%s*true', content_type="application/x-www-form-urlencoded")


def named_cpu_seconds(name: str) -> float:
    """User + system CPU seconds so far of every live process whose command name is ``name``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if stat[stat.index("(") + 1:stat.rindex(")")] == name:
                    fields = stat[stat.rindex(")") + 2:].split()
                    total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def bench_nodes(tmp: Path, args: argparse.Namespace) -> tuple[Result, Result]:
    """One node (serve --workers 1) against two nodes (each --workers 1) on one PostgreSQL database.

    Also prints where the machine's CPU went during each run (nodes, PostgreSQL, wrk, the rest): on a
    machine whose cores the second node has to share, that is what bounds the gain.
    """
    import resource

    results = []
    for count in (1, 2):
        with postgres_database() as db_url:
            key = base64.b64encode(os.urandom(32)).decode()
            users = new_users(f"n{count}", args.users)
            seed_tracker2fa(db_url, key, users)
            with Servers() as servers:
                procs = [start_tracker2fa(servers, db_url, key, 1) for _ in range(count)]
                runs = []
                for i, (base, _proc) in enumerate(procs):
                    bodies = write_bodies(tmp / f"nodes{count}-{i}.bodies", totp_bodies(users[i::count]))
                    runs.append(dict(url=f"{base}/v1/totp/verify", bodies=bodies,
                                     connections=args.connections // count, seconds=args.seconds,
                                     label=f"tracker2fa postgresql, node {i + 1} of {count}", auth=SERVICE_AUTH))
                nodes0 = sum(cpu_seconds(p.pid) for _b, p in procs)
                pg0, wrk0 = named_cpu_seconds("postgres"), resource.getrusage(resource.RUSAGE_CHILDREN)
                busy0, wall0 = machine_busy_seconds(), time.monotonic()
                parts = wrk_parallel(runs)
                wrk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                spent = {"nodes": sum(cpu_seconds(p.pid) for _b, p in procs) - nodes0,
                         "postgres": named_cpu_seconds("postgres") - pg0,
                         "wrk": wrk1.ru_utime + wrk1.ru_stime - wrk0.ru_utime - wrk0.ru_stime}
                busy, wall = machine_busy_seconds() - busy0, time.monotonic() - wall0
                print(f"# CPU during the {count}-node run ({wall:.1f} s, {os.cpu_count()} cores, "
                      f"{busy:.1f} CPU-s busy in all): " + ", ".join(f"{k} {v:.1f} s" for k, v in spent.items())
                      + f", everything else {busy - sum(spent.values()):.1f} s", flush=True)
        total = Result(f"tracker2fa postgresql, {count} node(s) x 1 worker", sum(p.ok for p in parts),
                       sum(p.bad for p in parts), sum(p.requests for p in parts), max(p.seconds for p in parts),
                       sum(p.errors for p in parts), max(p.p50_ms for p in parts), max(p.p99_ms for p in parts),
                       sum(p.wrapped for p in parts))
        print("# " + total.line(), flush=True)
        results.append(total)
    return results[0], results[1]


def bench_same_code(args: argparse.Namespace) -> tuple[int, int, int]:
    """The same code to two nodes at once, ``args.trials`` times; returns (trials, one-success trials, other)."""
    import http.client
    from concurrent.futures import ThreadPoolExecutor

    with postgres_database() as db_url:
        key = base64.b64encode(os.urandom(32)).decode()
        users = new_users("s", args.trials)
        seed_tracker2fa(db_url, key, users)
        with Servers() as servers:
            bases = [start_tracker2fa(servers, db_url, key, 1)[0] for _ in range(2)]
            conns = [http.client.HTTPConnection(b.removeprefix("http://"), timeout=30) for b in bases]
            barrier = threading.Barrier(2)

            def send(i: int, body: bytes) -> bool:
                barrier.wait()
                conns[i].request("POST", "/v1/totp/verify", body, {"content-type": "application/json",
                                                                   "authorization": SERVICE_AUTH})
                return json.loads(conns[i].getresponse().read())["ok"]

            exactly_one = 0
            with ThreadPoolExecutor(2) as pool:
                for n, (user, secret) in enumerate(users):
                    body = json.dumps({"username": user, "code": code_now(secret), "ip": f"10.9.{n // 250}.{n % 250}",
                                       "user_agent": "bench"}).encode()
                    oks = list(pool.map(send, (0, 1), (body, body)))
                    exactly_one += oks.count(True) == 1
    print(f"# same code to both nodes at once: {exactly_one} of {len(users)} trials had exactly one success",
          flush=True)
    return len(users), exactly_one, len(users) - exactly_one


def bench_webauthn(tmp: Path, args: argparse.Namespace) -> dict:
    """Server CPU per assertion (begin + complete) and per TOTP verification, one server, SQLite.

    Both are sent by the same Python client over ``--connections`` connections, each sending its next
    request when the previous answer arrived, so the server sees the same pacing; the assertions are signed
    by ``FastSigner`` (the signing math only; a key registered through the real ceremony), so that the
    client keeps the server as busy as for TOTP. The TOTP figure under wrk is printed beside it.
    """
    import asyncio

    from fast_signer import FastSigner
    from loadgen import http_request, read_response

    from tests.support.host_key import HostKey
    from verifier.service import Verifier, VerifierSettings
    from verifier.store import open_store

    key = base64.b64encode(os.urandom(32)).decode()
    db_url = f"sqlite:///{tmp}/webauthn.db"
    users = new_users("w", args.users)
    client_users = new_users("c", args.assertions)
    seed_tracker2fa(db_url, key, [*users, *client_users])
    verifier = Verifier(open_store(db_url), VerifierSettings(server_key=key, origins=("http://localhost",)))
    signers = []
    for i in range(args.connections):
        verifier.create_user(f"k{i}")
        soft = HostKey()
        options, state = verifier.webauthn_register_begin(f"k{i}", "http://localhost")
        verifier.webauthn_register_complete(f"k{i}", state, soft.create("http://localhost", options), "bench key")
        signers.append((f"k{i}", FastSigner(soft, "http://localhost")))
    verifier.store.close()
    refused: collections.Counter[str] = collections.Counter()  # reasons, should there be any
    with Servers() as servers:
        base, proc = start_tracker2fa(servers, db_url, key, args.workers)
        host, port = base.removeprefix("http://").split(":")
        # An address per user: should the bodies wrap, the replays must not lock out the clients below.
        bodies = write_bodies(tmp / "wa-totp.bodies", totp_bodies(users, ip=None))
        cpu0 = cpu_seconds(proc.pid)
        totp = wrk(f"{base}/v1/totp/verify", bodies, connections=args.connections, seconds=args.seconds,
                   label="tracker2fa sqlite TOTP (for the WebAuthn ratio)", auth=SERVICE_AUTH)
        totp_cpu = (cpu_seconds(proc.pid) - cpu0) / max(totp.requests, 1)

        async def call(reader, writer, path: str, body: dict) -> dict:
            writer.write(http_request("POST", path, json.dumps(body).encode(), headers={"Authorization": SERVICE_AUTH}))
            _status, raw, _close = await read_response(reader)
            return json.loads(raw)

        def note(reply: dict) -> int:
            if reply.get("ok") is not True:
                refused[str(reply.get("reason"))] += 1
            return reply.get("ok") is True

        async def totp_same_client() -> int:
            ok = 0
            bodies = [json.loads(b) for b in totp_bodies(client_users, ip="198.51.100.7")]

            async def one_connection(share: list[dict]) -> None:
                nonlocal ok
                reader, writer = await asyncio.open_connection(host, int(port))
                for body in share:
                    reply = await call(reader, writer, "/v1/totp/verify", body)
                    ok += note(reply)  # not `ok += note(await …)`: that reads ok before the await
                writer.close()

            await asyncio.gather(*(one_connection(bodies[i::len(signers)]) for i in range(len(signers))))
            return ok

        async def assertions(per_key: int) -> int:
            ok = 0

            async def one_key(name: str, signer: FastSigner) -> None:
                nonlocal ok
                reader, writer = await asyncio.open_connection(host, int(port))
                for _ in range(per_key):
                    begin = await call(reader, writer, "/v1/webauthn/authenticate/begin",
                                       {"username": name, "origin": "http://localhost"})
                    reply = await call(reader, writer, "/v1/webauthn/authenticate/complete",
                                       {"username": name, "state_id": begin["state_id"],
                                        "credential": signer.get(begin["options"]),
                                        "ip": "203.0.113.9", "user_agent": "bench"})
                    ok += note(reply)
                writer.close()

            await asyncio.gather(*(one_key(n, s) for n, s in signers))
            return ok

        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        totp_client_ok = asyncio.run(totp_same_client())
        totp_client_cpu = (cpu_seconds(proc.pid) - cpu0) / max(totp_client_ok, 1)
        totp_client_rate = totp_client_ok / (time.perf_counter() - t0)
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        ok = asyncio.run(assertions(max(1, args.assertions // len(signers))))
        wall = time.perf_counter() - t0
        wa_cpu = (cpu_seconds(proc.pid) - cpu0) / max(ok, 1)
    line = (f"WebAuthn assertion (begin+complete): {wa_cpu * 1000:.2f} ms server CPU each ({ok} accepted, "
            f"{ok / wall:.0f}/s); TOTP verification, same client: {totp_client_cpu * 1000:.2f} ms "
            f"({totp_client_ok} accepted, {totp_client_rate:.0f}/s), ratio {wa_cpu / totp_client_cpu:.2f}x; "
            f"TOTP under wrk: {totp_cpu * 1000:.2f} ms, ratio {wa_cpu / totp_cpu:.2f}x"
            + (f"; refused: {dict(refused)}" if refused else ""))
    print("# " + line, flush=True)
    return {"assertion_cpu_ms": wa_cpu * 1000, "totp_cpu_ms_same_client": totp_client_cpu * 1000,
            "ratio_same_client": wa_cpu / totp_client_cpu, "totp_cpu_ms_wrk": totp_cpu * 1000,
            "ratio_vs_wrk": wa_cpu / totp_cpu, "assertions_ok": ok, "totp_same_client_ok": totp_client_ok,
            "assertions_per_s": ok / wall, "totp_same_client_per_s": totp_client_rate, "refused": dict(refused)}


def bench_soak(tmp: Path, args: argparse.Namespace, capacity: float) -> dict:
    """``--soak-seconds`` at 80 % of ``capacity`` on SQLite: errors, RSS growth, audit rows vs accepted."""
    from verifier.store import open_store

    key = base64.b64encode(os.urandom(32)).decode()
    db_url = f"sqlite:///{tmp}/soak.db"
    target = 0.8 * capacity
    users = new_users("soak", int(target * args.soak_seconds * 1.25))
    seed_tracker2fa(db_url, key, users)
    # A code computed now stays valid for at least 30 s (the window reaches one step ahead), and wrk cannot
    # compute codes, so the soak runs in slices of 20 s, each with bodies computed just before it.
    slices = max(1, int(args.soak_seconds // 20))
    per_slice = len(users) // slices
    results, rss = [], []
    with Servers() as servers:
        base, proc = start_tracker2fa(servers, db_url, key, args.workers)
        rss.append(rss_kib(proc.pid))
        # Each connection waits delay_ms before its next request: rate = C / (delay + latency). The first
        # guess assumes no latency (so it cannot overshoot); after each slice the delay is corrected by what
        # the slice measured.
        delay_ms = args.connections / target * 1000
        for i in range(slices):
            chunk = users[i * per_slice:(i + 1) * per_slice]
            bodies = write_bodies(tmp / "soak.bodies", totp_bodies(chunk, ip=None))
            result = wrk(f"{base}/v1/totp/verify", bodies, connections=args.connections,
                         seconds=args.soak_seconds / slices, label=f"soak slice {i + 1}/{slices} (delay "
                         f"{delay_ms:.1f} ms)", auth=SERVICE_AUTH, delay_ms=delay_ms)
            results.append(result)
            rss.append(rss_kib(proc.pid))
            if result.requests:
                achieved = result.requests / result.seconds
                delay_ms = max(0.0, delay_ms + (args.connections / target - args.connections / achieved) * 1000)
    store = open_store(db_url)
    try:
        with store.tx(write=False) as tx:
            audited = tx.run("SELECT COUNT(*) AS n FROM audit WHERE event = 'verify' AND result = 'ok'")[0]["n"]
    finally:
        store.close()
    ok = sum(r.ok for r in results)
    summary = {"target_per_s": target, "achieved_per_s": ok / sum(r.seconds for r in results),
               "errors": sum(r.errors + r.bad for r in results), "ok": ok, "audit_ok_rows": audited,
               "rss_kib_first": rss[1] if len(rss) > 1 else rss[0], "rss_kib_last": rss[-1],
               "rss_growth": (rss[-1] - rss[1]) / rss[1] if len(rss) > 2 else 0.0,
               "rss_kib_per_slice": rss}  # the curve: a plateau is a cache filling, a steady climb a leak
    print(f"# soak: {summary}", flush=True)
    return summary


# ---- raw P-256 (context for the WebAuthn figure) ---------------------------------------------------------


def raw_p256_rate(n: int = 3000) -> float:
    """cryptography ECDSA P-256 verifies/s over authData || SHA-256(clientDataJSON)-sized messages."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pub = key.public_key()
    msgs = [os.urandom(37) + hashlib.sha256(os.urandom(100)).digest() for _ in range(64)]
    sigs = [key.sign(m, ec.ECDSA(hashes.SHA256())) for m in msgs]
    t0 = time.perf_counter()
    for i in range(n):
        pub.verify(sigs[i % 64], msgs[i % 64], ec.ECDSA(hashes.SHA256()))
    return n / (time.perf_counter() - t0)


# ---- main --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users", type=int, default=40_000, help="fresh users (bodies) per run")
    parser.add_argument("--pi-tokens", type=int, default=1500)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--assertions", type=int, default=800)
    parser.add_argument("--soak-seconds", type=float, default=600)
    parser.add_argument("--capacity", type=float, help="soak: measured ok/s to take 80 %% of (default: this run's)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="notifications: rounds of off/on runs (alternating)")
    parser.add_argument("--only", action="append",
                        choices=["minimal", "tracker2fa", "privacyidea", "nodes", "same-code", "webauthn", "soak",
                                 "notifications"])
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    only = set(args.only or ["minimal", "tracker2fa", "privacyidea", "nodes", "same-code", "webauthn"])
    tmp = Path(tempfile.mkdtemp(prefix="verifier-bench-"))
    figures: dict[str, object] = {"workers": args.workers, "connections": args.connections, "seconds": args.seconds}
    try:
        with contextlib.ExitStack() as stack:
            sqlite = {"minimal": f"{tmp}/minimal.db", "tracker2fa": f"sqlite:///{tmp}/t2fa.db"}
            if "minimal" in only:
                for name, result in bench_minimal(tmp, sqlite["minimal"], "sqlite", args).items():
                    figures[f"minimal_sqlite_{name}"] = result.__dict__
            if "tracker2fa" in only:
                figures["tracker2fa_sqlite"] = bench_tracker2fa(tmp, sqlite["tracker2fa"], "sqlite", args).__dict__
            if not args.skip_postgres:
                if "minimal" in only:
                    pg = stack.enter_context(postgres_database())
                    for name, result in bench_minimal(tmp, pg, "postgresql", args).items():
                        figures[f"minimal_postgres_{name}"] = result.__dict__
                if "tracker2fa" in only:
                    pg = stack.enter_context(postgres_database())
                    figures["tracker2fa_postgres"] = bench_tracker2fa(tmp, pg, "postgresql", args).__dict__
            if "privacyidea" in only:
                pi = bench_privacyidea(tmp, args)
                figures["privacyidea"] = pi.__dict__ if isinstance(pi, Result) else pi
            if "nodes" in only and not args.skip_postgres:
                one, two = bench_nodes(tmp, args)
                figures["one_node"], figures["two_nodes"] = one.__dict__, two.__dict__
            if "same-code" in only and not args.skip_postgres:
                figures["same_code"] = dict(zip(("trials", "exactly_one", "other"), bench_same_code(args),
                                                strict=True))
            if "webauthn" in only:
                figures["webauthn"] = bench_webauthn(tmp, args)
                figures["raw_p256_per_s"] = raw_p256_rate()
            if "notifications" in only:
                counter = iter(range(1_000_000))

                @contextlib.contextmanager
                def sqlite_db() -> Iterator[str]:
                    yield f"sqlite:///{tmp}/notify-{next(counter)}.db"

                figures["notifications_sqlite"] = bench_notifications(tmp, sqlite_db, "sqlite", args)
                if not args.skip_postgres:
                    figures["notifications_postgres"] = bench_notifications(tmp, postgres_database, "postgresql",
                                                                            args)
            if "soak" in only:
                measured = figures.get("tracker2fa_sqlite", {}).get("ok", 0) / args.seconds
                capacity = args.capacity or measured or 800.0
                figures["soak"] = bench_soak(tmp, args, capacity)
        print("FIGURES " + json.dumps(figures, default=str))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
