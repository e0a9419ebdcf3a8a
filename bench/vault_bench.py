"""Vault operations at 100, 1,000 and 10,000 entries, each against a baseline measured in the same run.

    .venv/bin/python bench/vault_bench.py [--sizes 100,1000,10000]

Rows:
  lookup    entries_for_origin(origin)           vs  normalize_origin(origin) + dict.get: the least any lookup does
  code      code(id, origin) (TOTP, steady)      vs  pyotp.TOTP(secret).at(now) alone
  add+save  add(entry): lock, check, seal, write vs  bare AES-256-GCM encrypt + temp/fsync/rename of the same bytes
  unlock    unlock() at the minimum KDF cost     vs  json.loads of the decrypted database alone
Budgets (DESIGN.md): lookup < 1 ms, save < 50 ms at 10,000 entries.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyotp

from native_host.origins import normalize_origin
from native_host.vault import VaultFile
from native_host.vault.entry import Entry

PASSWORD = "bench password"
SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``fn`` over ``repeat`` runs."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bare_encrypt_write(path: Path, plaintext: bytes) -> None:
    """The floor of any durable encrypted save: AES-GCM, then temp + fsync + rename + fsync dir."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = AESGCM(b"k" * 32).encrypt(os.urandom(12), plaintext, None)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, sealed)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def bench_size(root: Path, size: int) -> list[tuple[str, int, float, float]]:
    path = root / f"vault-{size}.json"
    vault = VaultFile(path).create(PASSWORD, kdf_cost="minimum")
    origins = [f"https://tracker{i}.example.com" for i in range(max(1, size // 10))]
    vault.add_many(
        [
            Entry(secret=SECRET, issuer=f"Tracker {i}", account=f"u{i}@x.test", origins=[origins[i % len(origins)]])
            for i in range(size)
        ]
    )
    target = origins[len(origins) // 2]
    entry_id = vault.entries_for_origin(target)[0].id
    index = {o: [o] for o in origins}
    rows = []

    lookup = timed(lambda: vault.entries_for_origin(target), 2000)
    rows.append(("lookup", size, lookup, timed(lambda: index.get(normalize_origin(target)), 2000)))

    vault.code(entry_id, target)  # the first code of a minute records last_used (one save); then steady state
    totp = pyotp.TOTP(SECRET)
    code = timed(lambda: vault.code(entry_id, target), 2000)
    rows.append(("code", size, code, timed(lambda: totp.at(time.time()), 2000)))

    counter = iter(range(10**9))
    add = timed(lambda: vault.add(Entry(secret=SECRET, issuer=f"new {next(counter)}", origins=[target])), 31)
    plaintext_size = len(path.read_bytes()) * 3 // 4
    blob = os.urandom(plaintext_size)
    rows.append(("add+save", size, add, timed(lambda: bare_encrypt_write(root / "bare.bin", blob), 31)))

    unlock = timed(lambda: VaultFile(path).unlock(PASSWORD), 5)
    from native_host.vault.crypto import open_master_key, unseal
    from native_host.vault.format import parse_vault

    sealed = parse_vault(path.read_bytes())
    plaintext = unseal(open_master_key(sealed, PASSWORD), sealed)
    rows.append(("unlock", size, unlock, timed(lambda: json.loads(plaintext), 5)))
    vault.lock()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="vault-bench-") as tmp:
        rows = [row for size in sizes for row in bench_size(Path(tmp), size)]
    print(f"{'operation':10} {'entries':>8} {'vault':>12} {'baseline':>12} {'ratio':>8}")
    for name, size, value, base in sorted(rows, key=lambda r: (r[0], r[1])):
        print(f"{name:10} {size:>8} {value * 1000:>9.3f} ms {base * 1000:>9.3f} ms {value / base:>7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
