"""Importer speed: each sample file against a baseline measured in the same run.

Baselines: for plain files, parsing the same bytes with the standard library alone (``json.loads``, or
splitting lines and ``urllib.parse`` for URI lists, ``ElementTree`` for XML) — the ratio is the cost of
validation and conversion. For encrypted files, the key derivation alone with the file's parameters —
the ratio shows that decryption and parsing add little on top of the deliberately slow KDF.
Also: ``parse_otpauth_uri`` against ``urlsplit`` + ``parse_qsl`` on the same URI.

Run: .venv/bin/python bench/import_bench.py   (needs ../shared/data/import-samples)
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from native_host.vault.importers import _common, andotp, import_bytes, sniff_format
from native_host.vault.otpauth import parse_otpauth_uri

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "import-samples"


def timed(fn: Callable[[], object], *, min_runs: int = 5, budget: float = 0.5) -> float:
    """Median seconds per call over at least ``min_runs`` calls or ``budget`` seconds."""
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < min_runs or time.perf_counter() - start < budget:
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
        if len(samples) >= 2000:
            break
    return statistics.median(samples)


def pbkdf2(algo: hashes.HashAlgorithm, iterations: int, salt_len: int) -> Callable[[], object]:
    return lambda: PBKDF2HMAC(algorithm=algo, length=32, salt=b"s" * salt_len, iterations=iterations).derive(b"test")


KDF_BASELINES: dict[str, tuple[str, Callable[[], object]]] = {
    "aegis/aegis_encrypted.json": ("scrypt N=2^15 r=8 p=1", lambda: Scrypt(b"s" * 32, 32, 2**15, 8, 1).derive(b"test")),
    "2fas/": ("PBKDF2-SHA256 10k", pbkdf2(hashes.SHA256(), 10_000, 32)),
    "andotp/andotp_encrypted.bin": ("PBKDF2-SHA1 145776", pbkdf2(hashes.SHA1(), 145_776, 12)),
    "authenticator-pro/stratum_encrypted.bin": (
        "Argon2id t=3 m=64MiB p=4",
        lambda: Argon2id(salt=b"s" * 16, length=32, iterations=3, lanes=4, memory_cost=65536).derive(b"test"),
    ),
    "authenticator-pro/stratum_encrypted_legacy.bin": ("PBKDF2-SHA1 64k", pbkdf2(hashes.SHA1(), 64_000, 20)),
    "authy/authy_encrypted.xml": ("3 x PBKDF2-SHA1 1000", lambda: [pbkdf2(hashes.SHA1(), 1000, 32)() for _ in "abc"]),
}


def unkeyed_baseline(path: str, data: bytes, password: str) -> tuple[str, Callable[[], object]]:
    """Files keyed by a bare SHA-256 (no KDF): the baseline is json.loads of the decrypted JSON."""
    if path.startswith("andotp/"):
        plaintext = andotp._decrypt(data, password)
    else:
        key = hashlib.sha256(password.encode()).digest()
        plaintext = _common.aes_cbc_open(key, bytes(16), _common.b64decode(data.decode(), "backup"), "bench")
    return "json.loads (decrypted; no KDF)", lambda: json.loads(plaintext)


def plain_baseline(path: str, data: bytes) -> tuple[str, Callable[[], object]]:
    text = data.decode("utf-8")
    if text.lstrip().startswith(("{", "[")):
        return "json.loads", lambda: json.loads(text)
    if text.lstrip().startswith("<"):
        return "ElementTree", lambda: ET.fromstring(text)
    return "split + urlsplit/parse_qsl", lambda: [parse_qsl(urlsplit(line).query) for line in text.splitlines()]


def main() -> None:
    expected = json.loads((SAMPLES / "expected.json").read_text())
    rows = []
    for sample in expected["files"]:
        if not sample["entries"]:
            continue
        data = (SAMPLES / sample["path"]).read_bytes()
        password = sample.get("password")
        key = next((k for k in KDF_BASELINES if sample["path"].startswith(k)), None)
        if sample.get("encrypted") and key is None:
            name, baseline = unkeyed_baseline(sample["path"], data, password)
            runs = 20
        elif sample.get("encrypted"):
            name, baseline = KDF_BASELINES[key]
            runs = 5
        else:
            name, baseline = plain_baseline(sample["path"], data)
            runs = 20
        t_import = timed(lambda d=data, p=password: import_bytes(d, password=p), min_runs=runs)
        t_base = timed(baseline, min_runs=runs)
        rows.append((sample["path"], sniff_format(data), len(sample["entries"]), t_import, name, t_base))
    uri = "otpauth://totp/ACME%20Co:john@example.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&digits=6"
    rows.append(("(one otpauth URI)", "parse_otpauth_uri", 1, timed(lambda: parse_otpauth_uri(uri), min_runs=1000),
                 "urlsplit + parse_qsl", timed(lambda: parse_qsl(urlsplit(uri).query), min_runs=1000)))
    print(f"{'file':<58} {'format':<19} {'n':>2} {'import ms':>10}  {'baseline':<31} {'base ms':>9} {'ratio':>7}")
    for path, fmt, n, t_imp, name, t_base in rows:
        print(f"{path:<58} {fmt:<19} {n:>2} {t_imp * 1000:>10.3f}  {name:<31} {t_base * 1000:>9.3f} "
              f"{t_imp / t_base:>6.2f}x")


if __name__ == "__main__":
    main()
