#!/usr/bin/env python3
"""The gate's forward-auth check under load: wrk through nginx, three ways in one run, side by side.

    .venv/bin/python -u bench/gate_bench.py [--seconds 10] [--connections 64] [--rounds 3]
        [--gate-workers 2] [--upstream python|nginx] [--paced-rate 1000] [--db sqlite|postgres] [--listener own|asgi]

One nginx (Debian's, ``worker_processes`` 1) serves the same small upstream page three ways:

- **no auth**: ``proxy_pass`` to the upstream, nothing else;
- **floor**: ``auth_request`` to an endpoint that answers a static 200 (another nginx server behind a
  keepalive upstream, as the gate is): the cost of the mechanism itself, with an auth server that does
  nothing;
- **gate**: the manifests' nginx template: ``auth_request`` to ``tracker2fa gate serve`` (uvicorn,
  ``--gate-workers`` processes), which reads the session (one indexed read of the verifier's database),
  matches the rules and answers with the identity headers. Every request carries a live two-factor session
  cookie: every check takes the accepting path.

The upstream is a small ASGI page on uvicorn (``bench/gate_upstream.py``, one worker: what a tracker page
costs at least), or with ``--upstream nginx`` a static page nginx serves itself (the hardest case for the
gate: a page that costs nothing). Each round measures the three back to back (``--seconds`` each, after a
warm-up); the table shows the median round. Then a paced run (each connection waits between requests so
that the total is ``--paced-rate`` per second, below saturation) gives the latency each way adds.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))

from verifier.gate import proxy_configs  # noqa: E402

LUA = BENCH / "gate_get.lua"
WRK_THREADS = 2
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


TICKS = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (uvicorn's workers, nginx's worker), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += children.get(current, [])
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


class CpuMeter:
    """CPU seconds per component (nginx, the gate, the upstream, wrk) over one wrk run: what a request costs
    the machine, which the machine's other load does not change the way it changes the rates."""

    def __init__(self, components: dict[str, int]) -> None:
        self.components = components

    def snapshot(self) -> dict[str, float]:
        shot = {name: cpu_seconds(tree(pid)) for name, pid in self.components.items()}
        usage = os.times()
        shot["wrk"] = usage.children_user + usage.children_system
        return shot


METER: CpuMeter | None = None


@dataclass
class Result:
    label: str
    ok: int
    bad: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    cpu_ms: dict[str, float] | None = None  # CPU milliseconds per request, by component

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def cpu_total(self) -> float:
        return sum((self.cpu_ms or {}).values())


def wrk(label: str, port: int, host: str, path: str, *, cookie: str = "", seconds: float, connections: int,
        delay_ms: float = 0) -> Result:
    env = {**os.environ, "HOST": f"{host}:{port}", "COOKIE": cookie, "DELAY_MS": str(delay_ms)}
    before = METER.snapshot() if METER else None
    out = subprocess.run(["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                          "--timeout", "10s", "-s", str(LUA), f"http://127.0.0.1:{port}{path}"],
                         env=env, capture_output=True, text=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    d = json.loads(line.removeprefix("WRKJSON "))
    result = Result(label, d["ok"], d["bad"], d["duration_us"] / 1e6, d["errors"], d["p50_us"] / 1000,
                    d["p90_us"] / 1000, d["p99_us"] / 1000)
    if before is not None and METER is not None and d["requests"]:
        after = METER.snapshot()
        result.cpu_ms = {name: (after[name] - before[name]) * 1000 / d["requests"] for name in after}
    cpu = " ".join(f"{k} {v:.3f}" for k, v in (result.cpu_ms or {}).items())
    print(f"#   {label:10} {result.rate:8.0f}/s  p50 {result.p50_ms:6.2f} ms  p90 {result.p90_ms:6.2f} ms  "
          f"p99 {result.p99_ms:6.2f} ms  non-200 {result.bad}  errors {result.errors}  CPU ms/request: {cpu}",
          flush=True)
    if result.bad or result.errors:
        raise RuntimeError(f"{label}: {result.bad} answers were not 200 and {result.errors} failed")
    return result


def nginx_config(layout: proxy_configs.Layout, runtime: Path, *, noauth_port: int, floor_port: int,
                 static_port: int, upstream: str | None, page: Path) -> str:
    """The manifests' template (the gate) plus the baselines' servers, in one nginx. All three reach the page
    the same way: ``proxy_pass`` as the template writes it, or the static file (``--upstream nginx``)."""
    # The baselines reach the page exactly as the template's sites do.
    http = " ".join(line.strip() for line in proxy_configs.UPSTREAM_HTTP)
    to_page = f"{http} proxy_pass http://{upstream};" if upstream else f"root {page.parent}; try_files /page.html =404;"
    extra = f"""
    upstream floor_auth {{ server 127.0.0.1:{static_port}; keepalive 64; }}
    server {{ listen 127.0.0.1:{static_port}; location = /auth {{ return 200; }} }}
    server {{ listen 127.0.0.1:{noauth_port}; location / {{ {to_page} }} }}
    server {{
        listen 127.0.0.1:{floor_port};
        location = /__floor_auth {{
            internal;
            proxy_pass http://floor_auth/auth;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }}
        location / {{ auth_request /__floor_auth; {to_page} }}
    }}
"""
    main = proxy_configs.nginx_main(layout, str(runtime))
    if upstream is None:
        main = main.replace(f"proxy_pass http://{layout.sites[0].upstream};", f"root {page.parent}; "
                            "try_files /page.html =404;")
    return main.rstrip().removesuffix("}") + extra + "}\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--gate-workers", type=int, default=2)
    parser.add_argument("--upstream", choices=("python", "nginx"), default="python")
    parser.add_argument("--paced-rate", type=float, default=1000, help="requests per second of the paced run")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--listener", choices=("own", "asgi"), default="own",
                        help="ask the gate's own forward-auth port (default), or its ASGI path on the portal's port")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (apt-get install {tool}; scripts/test.sh installs both)")

    from verifier.core.sessions import Level, Timeouts
    from verifier.service import Verifier, VerifierSettings
    from verifier.store import open_store

    work = Path(tempfile.mkdtemp(prefix="gate-bench-"))
    procs: list[subprocess.Popen] = []
    pg_db = None
    try:
        key = secrets.token_bytes(32)
        port, noauth_port, floor_port, static_port, gate_port, authz_port, page_port = (free_port() for _ in range(7))
        if args.db == "postgres":
            import psycopg

            pg_db = f"gate_bench_{secrets.token_hex(4)}"
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{pg_db}"')
            db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{pg_db}"
        else:
            db_url = f"sqlite:///{work / 'gate.db'}"
        (work / "gate.toml").write_text(
            f'[server]\ntrusted_proxies = ["127.0.0.1"]\n[database]\nurl = "{db_url}"\n'
            f'[[domains]]\ndomain = "bench.localhost"\nportal = "http://auth.bench.localhost:{port}"\n'
            '[access_control]\ndefault_policy = "deny"\n'
            '[[access_control.rules]]\ndomain = "app.bench.localhost"\nresources = ["^/public/"]\npolicy = "bypass"\n'
            '[[access_control.rules]]\ndomain = "app.bench.localhost"\npolicy = "two_factor"\n')
        store = open_store(db_url)
        verifier = Verifier(store, VerifierSettings(server_key=key))
        verifier.create_user("alice", groups=("developers",))
        token = verifier.sessions.start("alice", "bench.localhost", Level.TWO_FACTORS, "totp",
                                        Timeouts(idle=3600, absolute=12 * 3600), ip="127.0.0.1", user_agent="wrk")
        store.close()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACKER2FA_VERIFIER_KEY": base64.b64encode(key).decode()}
        with open(work / "gate.log", "w") as log:
            gate = subprocess.Popen([sys.executable, "-m", "native_host", "gate", "serve", "--config",
                                     str(work / "gate.toml"), "--workers", str(args.gate_workers), "--port",
                                     str(gate_port), "--authz-port", str(authz_port if args.listener == "own" else 0)],
                                    env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
                                    start_new_session=True)
        procs.append(gate)
        wait_port(gate_port, gate, "the gate")
        upstream = None
        page = work / "page" / "page.html"
        page.parent.mkdir()
        from bench.gate_upstream import PAGE

        page.write_bytes(PAGE.replace(b"{user}", b"someone"))
        for path, mode in ((work, 0o755), (page.parent, 0o755), (page, 0o644)):  # nginx's workers are not root
            path.chmod(mode)
        if args.upstream == "python":
            up = subprocess.Popen([sys.executable, "-m", "uvicorn", "bench.gate_upstream:app", "--port",
                                   str(page_port), "--workers", "1", "--http", "httptools", "--loop", "uvloop",
                                   "--no-access-log", "--lifespan", "off", "--log-level", "warning"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
            procs.append(up)
            wait_port(page_port, up, "the upstream")
            upstream = f"127.0.0.1:{page_port}"
        runtime = work / "nginx"
        runtime.mkdir()
        authz = f"127.0.0.1:{authz_port}" if args.listener == "own" else None
        layout = proxy_configs.Layout(gate=f"127.0.0.1:{gate_port}", authz=authz,
                                      portal_hosts=("auth.bench.localhost",), port=port, address="127.0.0.1", tls=None,
                                      sites=(proxy_configs.Site("app.bench.localhost", upstream or "unused:1"),))
        conf = runtime / "nginx.conf"
        conf.write_text(nginx_config(layout, runtime, noauth_port=noauth_port, floor_port=floor_port,
                                     static_port=static_port, upstream=upstream, page=page))
        nginx = subprocess.Popen(["nginx", "-p", str(runtime), "-c", str(conf), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        procs.append(nginx)
        wait_port(port, nginx, "nginx")
        global METER
        METER = CpuMeter({"nginx": nginx.pid, "gate": gate.pid, **({"upstream": up.pid} if upstream else {})})
        cookie = f"tracker2fa_session={token}"
        ways = {
            "no auth": dict(port=noauth_port, host="app.bench.localhost", path="/board"),
            "floor": dict(port=floor_port, host="app.bench.localhost", path="/board"),
            "gate": dict(port=port, host="app.bench.localhost", path="/board", cookie=cookie),
        }
        print(f"# gate bench: upstream {args.upstream}, database {args.db}, listener {args.listener}, "
              f"gate workers {args.gate_workers}, "
              f"{args.connections} connections, {args.seconds:.0f} s per row, {args.rounds} rounds, "
              f"{os.cpu_count()} cores", flush=True)
        for label, way in ways.items():  # warm-up: connections, caches, the gate's workers
            wrk(f"warm {label}", seconds=2, connections=args.connections, **way)
        rounds: dict[str, list[Result]] = {label: [] for label in ways}
        labels = list(ways)
        for n in range(args.rounds):
            print(f"# round {n + 1}", flush=True)
            for label in labels[n % 3:] + labels[:n % 3]:  # each way first in turn: slow drifts even out
                rounds[label].append(wrk(label, seconds=args.seconds, connections=args.connections, **ways[label]))
        median = {label: sorted(results, key=lambda r: r.rate)[len(results) // 2] for label, results in rounds.items()}
        delay = args.connections / args.paced_rate * 1000
        print(f"# paced: each connection waits {delay:.0f} ms between requests ({args.paced_rate:.0f}/s in all)",
              flush=True)
        paced: dict[str, list[Result]] = {label: [] for label in ways}
        for n in range(3):
            for label in labels[n:] + labels[:n]:
                paced[label].append(wrk(f"paced {label}", seconds=args.seconds, connections=args.connections,
                                        delay_ms=delay, **ways[label]))
        report(median, paced, rounds)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if pg_db:
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(median: dict[str, Result], paced: dict[str, list[Result]], rounds: dict[str, list[Result]]) -> None:
    def mid(values: list[float]) -> float:
        return statistics.median(values)

    print("\n| way | req/s (median round) | all rounds | p50 / p99 at saturation | p50 / p99 paced (median of 3) |"
          " CPU ms per request (nginx + gate + upstream + wrk) |")
    print("|---|---|---|---|---|---|")
    for label, result in median.items():
        all_rounds = ", ".join(f"{r.rate:,.0f}" for r in rounds[label])
        cpu = " + ".join(f"{v:.3f}" for v in (result.cpu_ms or {}).values())
        print(f"| {label} | {result.rate:,.0f} | {all_rounds} | {result.p50_ms:.2f} / {result.p99_ms:.2f} ms | "
              f"{mid([r.p50_ms for r in paced[label]]):.2f} / {mid([r.p99_ms for r in paced[label]]):.2f} ms | "
              f"{cpu} = {result.cpu_total:.3f} |")
    vs_base = [g.rate / b.rate for g, b in zip(rounds["gate"], rounds["no auth"], strict=True)]
    vs_floor = [g.rate / f.rate for g, f in zip(rounds["gate"], rounds["floor"], strict=True)]
    added = [g.p99_ms - b.p99_ms for g, b in zip(paced["gate"], paced["no auth"], strict=True)]
    added50 = [g.p50_ms - b.p50_ms for g, b in zip(paced["gate"], paced["no auth"], strict=True)]
    print(f"\ngate / no auth, per round: {', '.join(f'{x:.2f}' for x in vs_base)} -> median {mid(vs_base):.2f} "
          "(aim >= 0.50)")
    print(f"gate / floor, per round: {', '.join(f'{x:.2f}' for x in vs_floor)} -> median {mid(vs_floor):.2f} "
          "(aim >= 0.80)")
    print("latency the gate adds, paced: p99 "
          f"{', '.join(f'{x:+.2f}' for x in added)} ms -> median {mid(added):+.2f} ms (aim <= 2 ms); p50 median "
          f"{mid(added50):+.2f} ms")
    base, floor, gate = median["no auth"], median["floor"], median["gate"]
    print(f"CPU-bound ratios (inverse CPU per request, median rounds): gate / no auth "
          f"{base.cpu_total / gate.cpu_total:.2f}, gate / floor {floor.cpu_total / gate.cpu_total:.2f}")


if __name__ == "__main__":
    sys.exit(main())
