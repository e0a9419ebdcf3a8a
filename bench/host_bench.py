#!/usr/bin/env python3
"""Native host benchmarks: cold start and round-trip throughput, each as a ratio to a baseline in the same run.

    .venv/bin/python bench/host_bench.py [--runs 20] [--requests 5000] [--quick]

(a) spawn → `hello` reply, against spawn → exit of `python -c pass` (same interpreter, same venv).
(b) spawn → first `vault.code` reply (unlock included, on a vault made with the minimum KDF cost), against
    `python -c "import json, threading, pyotp, cryptography.hazmat.primitives.ciphers.aead"`.
(c) requests per second over the host's stdio, one request in flight at a time (as a popup does) and
    pipelined, driven by this process; baseline: a minimal echo host (struct + json, no threads). Each row also
    gives the host's CPU time per request (user + system, from the child's rusage), which a loaded machine
    disturbs far less than wall-clock rates.
Cold starts alternate host and baseline runs and report medians and minima. The host runs exactly
as a browser starts it (argv, temp HOME, no config file).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
HOST = str(Path(PY).parent / "tracker2fa-host")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from native_host import DEV_EXTENSION_ID  # noqa: E402

ARGV = [HOST, f"chrome-extension://{DEV_EXTENSION_ID}/"]
ECHO_HOST = r"""
import json, struct, sys
i, o = sys.stdin.buffer, sys.stdout.buffer
while True:
    h = i.read(4)
    if len(h) < 4: break
    m = json.loads(i.read(struct.unpack("=I", h)[0]))
    b = json.dumps({"id": m["id"], "result": {"ok": True}}).encode()
    o.write(struct.pack("=I", len(b)) + b); o.flush()
"""


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack("=I", len(body)) + body


def read_frame(stream) -> dict:
    header = stream.read(4)
    if len(header) < 4:
        raise RuntimeError("the host closed its stdout")
    return json.loads(stream.read(struct.unpack("=I", header)[0]))


def time_exit(cmd: list[str], env: dict) -> float:
    """Seconds from spawning ``cmd`` to its exit."""
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True)
    return time.perf_counter() - start


def time_first_reply(requests: list[dict], env: dict, want_id: int) -> float:
    """Seconds from spawning the host, ``requests`` sent at once, to the reply with ``want_id``."""
    payload = b"".join(frame(r) for r in requests)
    start = time.perf_counter()
    proc = subprocess.Popen(ARGV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    proc.stdin.write(payload)
    proc.stdin.flush()
    while True:
        reply = read_frame(proc.stdout)
        if reply.get("id") == want_id:
            break
    elapsed = time.perf_counter() - start
    if "result" not in reply:
        raise RuntimeError(f"the host answered with an error: {reply}")
    proc.stdin.close()
    proc.wait()
    return elapsed


def paired(runs: int, ours, baseline) -> tuple[tuple[float, float], tuple[float, float]]:
    """Alternate the two measurements (fair under a changing machine load); (median, min) of each."""
    a, b = [], []
    for _ in range(runs):
        a.append(ours())
        b.append(baseline())
    return (statistics.median(a), min(a)), (statistics.median(b), min(b))


def cold_row(label: str, ours: tuple[float, float], base: tuple[float, float]) -> tuple[str, str, str, str]:
    return (
        label,
        f"{ours[0] * 1000:.1f} ms (min {ours[1] * 1000:.1f})",
        f"{base[0] * 1000:.1f} ms (min {base[1] * 1000:.1f})",
        f"{ours[0] / base[0]:.2f}× (min {ours[1] / base[1]:.2f}×)",
    )


def throughput(cmd: list[str], env: dict, method: str, params: dict, n: int, pipelined: bool) -> tuple[float, float]:
    """(requests per second, CPU seconds the process used per request, its start-up and exit left out)."""
    overhead = _run_cpu(cmd, env, method, params, 1, pipelined)
    rate, cpu = _run_cpu(cmd, env, method, params, n, pipelined)
    return rate, max(0.0, cpu - overhead[1]) / n


def _run_cpu(cmd: list[str], env: dict, method: str, params: dict, n: int, pipelined: bool) -> tuple[float, float]:
    """(requests per second, total CPU seconds of the process) for one process serving ``n`` requests."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, bufsize=0
    )
    frames = [frame({"id": i, "method": method, "params": params}) for i in range(n)]
    start = time.perf_counter()
    if pipelined:
        import threading

        writer = threading.Thread(target=lambda: [proc.stdin.write(f) for f in frames])
        writer.start()
        for _ in range(n):
            read_frame(proc.stdout)
        writer.join()
    else:
        for f in frames:
            proc.stdin.write(f)
            reply = read_frame(proc.stdout)
            if "result" not in reply:
                raise RuntimeError(f"the host answered with an error: {reply}")
    elapsed = time.perf_counter() - start
    proc.stdin.close()
    proc.wait()
    return n / elapsed, _cpu_since(before)


def _cpu_since(before: resource.struct_rusage) -> float:
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def make_vault(directory: Path) -> tuple[Path, str, str] | None:
    """A minimum-KDF vault with one entry bound to an origin; None if the vault package is not there yet."""
    try:
        from native_host.vault import VaultFile
        from native_host.vault.entry import Entry
    except ImportError:
        return None
    path = directory / "vault.json"
    vault = VaultFile(path).create("bench-password", kdf_cost="minimum")
    entry = vault.add(
        Entry(secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", issuer="Jira", origins=["https://jira.example.com"])
    )
    vault.lock()
    return path, "bench-password", entry.id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="5 runs, 1000 requests: a rough figure in seconds")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.requests = 5, 1000

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        # As installed: bytecode cached (pip compiles it), so drop PYTHONDONTWRITEBYTECODE and warm up once.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TRACKER2FA_", "XDG_")) and k != "PYTHONDONTWRITEBYTECODE"
        }
        env["HOME"] = str(home)
        subprocess.run([PY, "-c", "import native_host.host, native_host.api, native_host.vault"], env=env)
        rows: list[tuple[str, str, str, str]] = []

        hello, base_a = paired(
            args.runs,
            lambda: time_first_reply([{"id": 1, "method": "hello"}], env, 1),
            lambda: time_exit([PY, "-c", "pass"], env),
        )
        rows.append(cold_row("(a) spawn → hello", hello, base_a))

        vault = make_vault(Path(tmp))
        if vault is None:
            rows.append(("(b) spawn → first vault.code", "vault package not available", "", ""))
        else:
            path, password, entry_id = vault
            env_v = dict(env, TRACKER2FA_VAULT=str(path))
            libs = "import json, threading, pyotp, cryptography.hazmat.primitives.ciphers.aead"
            requests = [
                {"id": 1, "method": "vault.unlock", "params": {"password": password}},
                {"id": 2, "method": "vault.code", "params": {"id": entry_id, "origin": "https://jira.example.com"}},
            ]
            code, base_b = paired(
                args.runs, lambda: time_first_reply(requests, env_v, 2), lambda: time_exit([PY, "-c", libs], env)
            )
            rows.append(cold_row("(b) spawn → unlock + vault.code", code, base_b))

        echo = [PY, "-c", ECHO_HOST]
        for pipelined in (False, True):
            mode = "pipelined" if pipelined else "one in flight"
            ours, ours_cpu = throughput(ARGV, env, "hello", {}, args.requests, pipelined)
            theirs, theirs_cpu = throughput(echo, env, "hello", {}, args.requests, pipelined)
            rows.append(
                (
                    f"(c) hello round trips/s, {mode}",
                    f"{ours:,.0f}/s ({ours_cpu * 1e6:.1f} µs CPU each)",
                    f"{theirs:,.0f}/s ({theirs_cpu * 1e6:.1f} µs CPU, echo host)",
                    f"{ours / theirs:.2f}×",
                )
            )
        if vault is not None:
            path, password, entry_id = vault
            env_v = dict(env, TRACKER2FA_VAULT=str(path))
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.Popen(
                ARGV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env_v, bufsize=0
            )
            proc.stdin.write(frame({"id": 0, "method": "vault.unlock", "params": {"password": password}}))
            read_frame(proc.stdout)
            params = {"id": entry_id, "origin": "https://jira.example.com"}
            start = time.perf_counter()
            for i in range(1, args.requests + 1):
                proc.stdin.write(frame({"id": i, "method": "vault.code", "params": params}))
                read_frame(proc.stdout)
            rate = args.requests / (time.perf_counter() - start)
            proc.stdin.close()
            proc.wait()
            cpu = _cpu_since(before) / args.requests  # start-up and unlock included, spread over the requests
            theirs, theirs_cpu = throughput(echo, env, "hello", {}, args.requests, False)
            rows.append(
                (
                    "(c) vault.code round trips/s",
                    f"{rate:,.0f}/s ({cpu * 1e6:.1f} µs CPU each)",
                    f"{theirs:,.0f}/s ({theirs_cpu * 1e6:.1f} µs CPU, echo host)",
                    f"{rate / theirs:.2f}×",
                )
            )

    widths = [max(len(r[i]) for r in [("measure", "tracker2fa-host", "baseline", "ratio"), *rows]) for i in range(4)]
    header = ("measure", "tracker2fa-host", "baseline", "ratio")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(
        f"\nmedians (minima) of {args.runs} alternated runs; {args.requests} requests per throughput run; "
        f"Python {sys.version.split()[0]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
