#!/usr/bin/env python3
"""Verifier throughput, side by side with its baselines, in one run on this machine.

    .venv/bin/python bench/verifier_bench.py [--quick] [--skip-privacyidea] [--skip-postgres]

Every system is driven by the same closed-loop load generator (bench/loadgen.py), each request a fresh,
valid TOTP code of a distinct user (so every request takes the accepting path: decrypt the secret,
check the window, compare-and-set the replay ledger, clear the failure counter, write the audit row):

- minimal: FastAPI + pyotp verify + one SQLite UPDATE (bench/minimal_totp_app.py), one uvicorn process;
- tracker2fa: the verifier's HTTP API with every rule on, SQLite and PostgreSQL, 1 and 2 processes;
- privacyIDEA (PyPI, own venv, bench/privacyidea_setup.sh) /validate/check on SQLite, gunicorn -w 2;
- WebAuthn: assertion verifications/s through the API vs raw cryptography P-256 verifies.

Prints a table; ratios are against baselines measured in the same run.
"""

from __future__ import annotations

import argparse
import base64
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
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyotp

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from loadgen import LoadResult, http_request, run_load  # noqa: E402

PY = sys.executable
PI_DIR = Path(os.environ.get("PI_DIR", Path.home() / ".cache/tracker2fa-bench/privacyidea"))
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_BENCH_DB = "tracker2fa_bench"


@dataclass
class Row:
    system: str
    db: str
    procs: int
    concurrency: int
    result: LoadResult

    def __post_init__(self) -> None:
        # Each figure is printed as soon as it is measured, so a later failure loses nothing.
        r = self.result
        print(f"# {self.system} {self.db} procs={self.procs} c={self.concurrency}: {r.rate:.0f}/s "
              f"p50 {r.percentile(50) * 1000:.1f} ms p99 {r.percentile(99) * 1000:.1f} ms "
              f"ok {r.accepted} rejected {r.rejected} errors {r.errors}", flush=True)


# ---- process helpers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.args}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port}: {proc.args}")


class Servers:
    """Starts server processes and always stops them (their own process groups, by pid)."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd: Sequence[str], port: int, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.procs.append(proc)
        try:
            wait_port(port, proc)
        except RuntimeError:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"could not start {' '.join(cmd)}\n{err}") from None
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def json_ok(key: str = "ok") -> Callable[[int, bytes], bool]:
    def accepted(status: int, body: bytes) -> bool:
        if status != 200:
            return False
        try:
            return json.loads(body).get(key) is True
        except ValueError:
            return False

    return accepted


# ---- minimal baseline --------------------------------------------------------------------------------


def bench_minimal(tmp: Path, requests_per_run: int, concurrencies: Sequence[int]) -> list[Row]:
    from minimal_totp_app import create_users

    rows = []
    for conc in concurrencies:
        db = tmp / f"minimal-{conc}.db"
        users = [(f"m{i}", pyotp.random_base32(32)) for i in range(requests_per_run)]
        create_users(str(db), users)
        port = free_port()
        with Servers() as servers:
            servers.start([PY, "-m", "uvicorn", "--app-dir", str(BENCH), "minimal_totp_app:app", "--port", str(port),
                           "--log-level", "warning", "--no-access-log"], port, env={"MINIMAL_DB": str(db)})
            now = time.time()
            reqs = [http_request("POST", "/verify", json.dumps({"username": u, "code": pyotp.TOTP(s).at(now)}).encode())
                    for u, s in users]
            rows.append(Row("minimal (FastAPI+pyotp+UPDATE)", "sqlite", 1, conc,
                            run_load([("127.0.0.1", port)], reqs, conc, json_ok())))
    return rows


# ---- privacyIDEA -------------------------------------------------------------------------------------


def _pi_post(port: int, path: str, data: dict[str, str], token: str | None = None) -> dict:
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=urllib.parse.urlencode(data).encode(),
                                 headers={"Authorization": token} if token else {})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.loads(resp.read())


def bench_privacyidea(requests_per_run: int, concurrencies: Sequence[int]) -> tuple[list[Row], str]:
    setup = BENCH / "privacyidea_setup.sh"
    out = subprocess.run(["bash", str(setup)], capture_output=True, text=True,
                         env={**os.environ, "PI_DIR": str(PI_DIR)})
    if out.returncode != 0:
        return [], f"privacyidea_setup.sh failed: {out.stderr.strip()[-500:]}"
    version = next((ln.split(": ")[1] for ln in out.stdout.splitlines() if ln.startswith("privacyidea version")), "?")
    port = free_port()
    rows = []
    env = {"PRIVACYIDEA_CONFIGFILE": str(PI_DIR / "pi.cfg")}
    with Servers() as servers:
        servers.start([str(PI_DIR / "venv/bin/gunicorn"), "-w", "2", "--timeout", "600", "-b",
                       f"127.0.0.1:{port}", "privacyidea.app:create_app()"], port, env=env)
        token = _pi_post(port, "/auth", {"username": "benchadmin",
                                         "password": (PI_DIR / "admin-password").read_text().strip()})
        jwt = token["result"]["value"]["token"]
        for conc in concurrencies:
            secrets = []
            for i in range(requests_per_run):
                raw = os.urandom(20)
                serial = f"B{conc}-{i}"
                params = {"type": "totp", "otpkey": raw.hex(), "serial": serial, "genkey": "0"}
                _pi_post(port, "/token/init", params, jwt)
                secrets.append((serial, base64.b32encode(raw).decode()))
            now = time.time()
            reqs = [http_request("POST", "/validate/check",
                                 urllib.parse.urlencode({"serial": s, "pass": pyotp.TOTP(b).at(now)}).encode(),
                                 content_type="application/x-www-form-urlencoded") for s, b in secrets]

            def accepted(status: int, body: bytes) -> bool:
                return status == 200 and json.loads(body)["result"].get("value") is True

            rows.append(Row(f"privacyIDEA {version} /validate/check", "sqlite", 2, conc,
                            run_load([("127.0.0.1", port)], reqs, conc, accepted)))
    return rows, version


# ---- raw P-256 baseline ------------------------------------------------------------------------------


def raw_p256_rate(n: int) -> float:
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


# ---- report ------------------------------------------------------------------------------------------


def print_table(rows: list[Row], baseline: dict[int, float], pi: dict[int, float]) -> None:
    """req/s counts every answer; ok/s only accepted verifications, and the ratios use ok/s."""
    head = f"{'system':40} {'db':9} {'procs':>5} {'conc':>4} {'req/s':>7} {'ok/s':>7} {'p50 ms':>8} {'p99 ms':>8} " \
           f"{'ok':>5} {'rej':>4} {'err':>4} {'vs minimal':>10} {'vs pI':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        res = r.result
        ok_rate = ok_per_second(res)
        vs_min = f"{ok_rate / baseline[r.concurrency]:.2f}x" if baseline.get(r.concurrency) else "-"
        vs_pi = f"{ok_rate / pi[r.concurrency]:.0f}x" if pi.get(r.concurrency) else "-"
        print(f"{r.system:40} {r.db:9} {r.procs:>5} {r.concurrency:>4} {res.rate:>7.0f} {ok_rate:>7.1f} "
              f"{res.percentile(50) * 1000:>8.1f} {res.percentile(99) * 1000:>8.1f} {res.accepted:>5} "
              f"{res.rejected:>4} {res.errors:>4} {vs_min:>10} {vs_pi:>7}")


def ok_per_second(result: LoadResult) -> float:
    """Accepted verifications per second."""
    return result.accepted / result.seconds if result.seconds else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--skip-privacyidea", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--only", choices=["minimal", "verifier", "privacyidea", "webauthn"], action="append")
    args = parser.parse_args(argv)
    n = 400 if args.quick else 1000
    n_pi = 60 if args.quick else 200
    concurrencies = (8, 64) if args.quick else (8, 32, 64)
    plan = [("sqlite", 1, c) for c in concurrencies]
    if not args.skip_postgres:
        plan += [("postgres", 1, c) for c in concurrencies] + [("postgres", 2, 64)]
    only = set(args.only or ["minimal", "verifier", "privacyidea", "webauthn"])
    tmp = Path(tempfile.mkdtemp(prefix="verifier-bench-"))
    rows: list[Row] = []
    notes: list[str] = []
    try:
        if "minimal" in only:
            rows += bench_minimal(tmp, n, concurrencies)
        if "verifier" in only:
            rows += bench_verifier(tmp, n, plan)
        if "privacyidea" in only and not args.skip_privacyidea:
            try:
                pi_rows, note = bench_privacyidea(n_pi, concurrencies)
            except Exception as exc:  # record why and keep the other figures
                pi_rows, note = [], f"privacyIDEA run failed: {exc!r}"
            rows += pi_rows
            if not pi_rows:
                notes.append(note)
        baseline = {r.concurrency: ok_per_second(r.result) for r in rows if r.system.startswith("minimal")}
        pi = {r.concurrency: ok_per_second(r.result) for r in rows if r.system.startswith("privacyIDEA")}
        print(f"TOTP verifications through HTTP, {os.cpu_count()} cores, load generator: bench/loadgen.py, "
              f"{n} requests per tracker2fa/minimal row, {n_pi} per privacyIDEA row\n")
        print_table(rows, baseline, pi)
        if "webauthn" in only:
            print()
            for line in bench_webauthn(tmp, n):
                print(line)
        for note in notes:
            print(f"\nnote: {note}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


# ---- tracker2fa verifier -----------------------------------------------------------------------------


def seed_totp_users(db_url: str, key: str, prefix: str, n: int, threads: int = 4) -> list[tuple[str, str, int]]:
    """Create ``n`` users with TOTP enrolled; returns (name, secret, time step used by the enrolment)."""
    from concurrent.futures import ThreadPoolExecutor

    from verifier.service import Verifier, VerifierSettings
    from verifier.store import open_store

    verifier = Verifier(open_store(db_url), VerifierSettings(server_key=key))

    def one(i: int) -> tuple[str, str, int]:
        name = f"{prefix}{i}"
        verifier.create_user(name)
        secret = verifier.totp_enroll_begin(name)["secret"]
        for _ in range(3):  # a retry only when a step boundary passed between computing and checking
            step = int(time.time() // 30)
            if verifier.totp_enroll_confirm(name, pyotp.TOTP(secret).at(step * 30), "127.0.0.1", "seed").ok:
                return name, secret, step
        raise RuntimeError(f"could not enrol {name}")

    with ThreadPoolExecutor(threads) as pool:
        users = list(pool.map(one, range(n)))
    verifier.store.close()
    return users


def fresh_code(secret: str, enrol_step: int) -> str:
    """A code the verifier has not seen: the current step, or the next one if enrolment used this one."""
    return pyotp.TOTP(secret).at(max(enrol_step + 1, int(time.time() // 30)) * 30)


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


# The tracker's bearer token, as a real tracker would send it on every call.
SERVICE_TOKEN = base64.urlsafe_b64encode(os.urandom(24)).decode()
SERVICE_AUTH = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


def start_verifiers(servers: Servers, db_url: str, key: str, procs: int) -> list[tuple[str, int]]:
    """``procs`` separate `tracker2fa verifier serve` processes on one database."""
    addresses = []
    for _ in range(procs):
        port = free_port()
        servers.start([PY, "-m", "native_host", "verifier", "serve", "--db", db_url, "--port", str(port),
                       "--origin", "http://localhost"], port,
                      env={"TRACKER2FA_VERIFIER_KEY": key, "TRACKER2FA_SERVICE_TOKEN": SERVICE_TOKEN}, cwd=ROOT)
        addresses.append(("127.0.0.1", port))
    return addresses


def bench_verifier(tmp: Path, n: int, plan: Sequence[tuple[str, int, int]]) -> list[Row]:
    """Run each (db kind, processes, concurrency) of ``plan`` against fresh users."""
    key = base64.b64encode(os.urandom(32)).decode()
    rows = []
    for kind, procs, conc in plan:
        with contextlib.ExitStack() as stack:
            if kind == "sqlite":
                db_url = f"sqlite:///{tmp}/verifier-{procs}-{conc}.db"
            else:
                db_url = stack.enter_context(postgres_database())
            rows.append(_verifier_row(db_url, key, kind, procs, conc, n))
    return rows


def _verifier_row(db_url: str, key: str, kind: str, procs: int, conc: int, n: int) -> Row:
    users = seed_totp_users(db_url, key, f"b{procs}x{conc}u", n)
    with Servers() as servers:
        addresses = start_verifiers(servers, db_url, key, procs)
        reqs = [http_request("POST", "/v1/totp/verify", json.dumps(
            {"username": u, "code": fresh_code(s, step), "ip": "127.0.0.1", "user_agent": "bench"}).encode(),
            headers=SERVICE_AUTH)
            for u, s, step in users]
        return Row("tracker2fa verifier (all rules)", kind, procs, conc, run_load(addresses, reqs, conc, json_ok()))


# ---- WebAuthn ----------------------------------------------------------------------------------------


async def _webauthn_load(address: tuple[str, int], keys: list[tuple[str, object]], per_key: int) -> tuple[int, float]:
    """Each worker owns one key and runs begin → sign → complete ``per_key`` times; returns (ok, seconds)."""
    import asyncio

    from loadgen import read_response

    ok = 0

    async def call(reader, writer, path: str, body: dict) -> dict:
        writer.write(http_request("POST", path, json.dumps(body).encode(), headers=SERVICE_AUTH))
        _status, raw, _close = await read_response(reader)
        return json.loads(raw)

    async def worker(username: str, key) -> None:
        nonlocal ok
        reader, writer = await asyncio.open_connection(*address)
        for _ in range(per_key):
            begin = await call(reader, writer, "/v1/webauthn/authenticate/begin",
                               {"username": username, "origin": "http://localhost"})
            done = await call(reader, writer, "/v1/webauthn/authenticate/complete",
                              {"username": username, "state_id": begin["state_id"],
                               "credential": key.get("http://localhost", begin["options"]),
                               "ip": "127.0.0.1", "user_agent": "bench"})
            ok += done.get("ok") is True
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(u, k) for u, k in keys))
    return ok, time.perf_counter() - t0


def bench_webauthn(tmp: Path, n: int, concurrency: int = 32) -> list[str]:
    """Assertion verifications/s through the API (SQLite, 1 process) vs raw P-256 verifies/s."""
    import asyncio

    from tests.support.host_key import HostKey  # the host's ceremonies with its software key
    from verifier.service import Verifier, VerifierSettings
    from verifier.store import open_store

    raw = raw_p256_rate(max(n, 3000))
    key = base64.b64encode(os.urandom(32)).decode()
    db_url = f"sqlite:///{tmp}/webauthn.db"
    verifier = Verifier(open_store(db_url), VerifierSettings(server_key=key, origins=("http://localhost",)))
    keys = []
    for i in range(concurrency):
        name = f"w{i}"
        verifier.create_user(name)
        soft = HostKey()
        options, state = verifier.webauthn_register_begin(name, "http://localhost")
        verifier.webauthn_register_complete(name, state, soft.create("http://localhost", options), "bench key")
        keys.append((name, soft))
    per_key = max(1, n // concurrency)
    with Servers() as servers:
        [address] = start_verifiers(servers, db_url, key, 1)
        ok, seconds = asyncio.run(_webauthn_load(address, keys, per_key))
    rate = ok / seconds
    return [f"raw cryptography P-256 verify (1 thread, in process): {raw:8.0f}/s",
            f"WebAuthn assertions through the API (begin+complete, c={concurrency}, SQLite): {rate:8.0f}/s "
            f"({ok} accepted of {per_key * concurrency}) = {rate / raw:.1%} of raw P-256"]


if __name__ == "__main__":
    sys.exit(main())
