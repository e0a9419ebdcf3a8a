"""Bulk import of TOTP seeds: users with confirmed TOTP factors from PSKC, CSV or JSON-lines files.

``import_seeds`` reads the whole file, checks every row (name, secret length, digits, period, algorithm,
window, duplicates in the file and in the database), then writes every accepted user, sealed secret and audit row
in one transaction. Without ``skip_invalid`` a single rejected row imports nothing; with it the valid rows
are imported and the rejected ones reported. The benchmarks seed their users through the same path.

An imported factor starts with an empty replay ledger (``last_step`` 0): a code from the seed's own
device is accepted once, as after an enrolment. Imported secrets are sealed for their user under the
server key exactly as enrolled ones are.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..core import sealing
from ..core.addresses import check_address
from ..core.audit import make_event
from ..core.policy import TOTP_WINDOW
from ..core.totp import MIN_SECRET_BITS, TotpParams
from ..errors import BadRequest
from ..settings import resolve_server_key
from ..store.base import Store
from .formats import FORMATS, Rejected, Seed, SeedFileError, detect_format, read_csv, read_jsonl, read_pskc

__all__ = ["FORMATS", "ImportReport", "Rejected", "Seed", "SeedFileError", "import_seeds", "read_seeds"]

MAX_SECRET_BYTES = 128
MAX_NAME = 150  # as verifier.service.users.MAX_NAME


@dataclass
class ImportReport:
    """What an import did: how many users it created and which rows it refused (with where and why)."""

    format: str
    imported: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "imported": self.imported,
                "rejected": [r.to_dict() for r in self.rejected]}


def read_seeds(data: bytes, fmt: str, *, password: str | None = None, map_serial: bool = False) -> list:
    """Every ``Seed`` and ``Rejected`` row of the file, in file order; raises SeedFileError."""
    if fmt == "pskc":
        return list(read_pskc(data, password, map_serial=map_serial))
    if map_serial:
        raise SeedFileError("--map-serial applies to PSKC files only (CSV and JSON lines name the user)")
    if password is not None:
        raise SeedFileError("a password applies to encrypted PSKC files only")
    if fmt == "csv":
        return list(read_csv(data))
    if fmt == "jsonl":
        return list(read_jsonl(data))
    raise SeedFileError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


def check_seed(seed: Seed) -> str | None:
    """Why ``seed`` cannot be imported, or None."""
    name = seed.username
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or \
            any(c.isspace() or not c.isprintable() for c in name):
        return f"the username must be 1-{MAX_NAME} printable characters without spaces, got {str(name)[:40]!r}"
    bits = len(seed.secret) * 8
    if bits < MIN_SECRET_BITS:
        return (f"the secret has {bits} bits; the verifier needs at least {MIN_SECRET_BITS} (NIST SP 800-63B): "
                "issue this user a new seed")
    if len(seed.secret) > MAX_SECRET_BYTES:
        return f"the secret has {len(seed.secret)} bytes, more than {MAX_SECRET_BYTES}"
    if not isinstance(seed.algorithm, str):
        return "the algorithm must be SHA1, SHA256 or SHA512"
    try:
        TotpParams(seed.digits, seed.period, seed.algorithm.upper())
    except (ValueError, TypeError) as exc:
        return str(exc)
    if seed.window is not None and not (isinstance(seed.window, int) and not isinstance(seed.window, bool)
                                        and TOTP_WINDOW[0] <= seed.window <= TOTP_WINDOW[1]):
        return (f"window must be a whole number of steps from {TOTP_WINDOW[0]} to {TOTP_WINDOW[1]} (it narrows "
                f"the policy's window for this user), got {str(seed.window)[:20]!r}")
    for group in seed.groups:
        if not 1 <= len(group) <= MAX_NAME or any(c.isspace() or not c.isprintable() for c in group):
            return f"group {group[:40]!r} must be 1-{MAX_NAME} printable characters without spaces"
    if seed.email is not None:
        try:
            check_address(seed.email)
        except ValueError as exc:
            return f"email: {exc}"
    return None


def import_seeds(store: Store, data: bytes, *, name: str = "", fmt: str | None = None,
                 password: str | None = None, map_serial: bool = False, skip_invalid: bool = False,
                 server_key: bytes | str | None = None, actor: str | None = None,
                 now: float | None = None) -> ImportReport:
    """Import the users of a seed file into ``store`` (see the module docstring); raises SeedFileError."""
    fmt = fmt or detect_format(name, data)
    report = ImportReport(fmt)
    accepted: list[Seed] = []
    first_seen: dict[str, str] = {}
    existing = set(store.list_users())
    for row in read_seeds(data, fmt, password=password, map_serial=map_serial):
        if isinstance(row, Rejected):
            report.rejected.append(row)
            continue
        reason = check_seed(row)
        if reason is None and row.username in first_seen:
            reason = f"user {row.username!r} appears again (first at {first_seen[row.username]})"
        if reason is None and row.username in existing:
            reason = f"a user named {row.username!r} already exists"
        if reason is not None:
            report.rejected.append(Rejected(row.where, reason))
            continue
        first_seen[row.username] = row.where
        accepted.append(row)
    if report.rejected and not skip_invalid:
        return report  # nothing imported: the caller shows every rejected row
    now = time.time() if now is None else now
    aead = AESGCM(resolve_server_key(server_key, store.url))
    source = os.path.basename(name) or "a file"
    users, factors, audit = [], [], []
    for seed in accepted:
        users.append((seed.username, json.dumps(sorted(set(seed.groups))),
                      check_address(seed.email) if seed.email is not None else None))
        factors.append((seed.username, sealing.seal(aead, seed.username, seed.secret), seed.digits, seed.period,
                        seed.algorithm.upper(), seed.drift, seed.window))
        detail = f"imported from {source} ({fmt}, {seed.where})"
        audit.append(make_event(now, "user_created", username=seed.username, method="import", actor=actor,
                                result="ok", detail=detail).to_dict())
        audit.append(make_event(now, "totp_enrolled", username=seed.username, method="totp", actor=actor,
                                result="ok", detail=detail).to_dict())
    if users:
        store.import_totp_users(users, factors, audit, now)
    report.imported = len(users)
    return report


def read_input(path: str) -> bytes:
    """The file's bytes; a missing or unreadable file is a BadRequest naming it."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror}") from None
