"""Readers for TOTP seed files: PSKC (RFC 6030, through python-pskc), CSV and JSON lines.

Each reader turns a file's bytes into ``Seed`` candidates and ``Rejected`` rows, where a rejected row says
where it was (line or key id) and why. A file that cannot be read as a whole (not UTF-8, broken XML, a CSV
header without the needed columns, a PSKC file whose password is wrong) raises ``SeedFileError``: nothing
of it is imported. Values are checked later, in one place (``verifier.seeds.check_seed``), whatever the format.

CSV and JSON lines carry the secret in base32 (what otpauth URIs and most exports use); PSKC carries bytes.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("pskc", "csv", "jsonl")
COLUMNS = ("username", "secret", "digits", "period", "algorithm", "window", "groups", "serial", "email")
REQUIRED = ("username", "secret")
TOTP_URI = "urn:ietf:params:xml:ns:keyprov:pskc:totp"
MAX_SECRET_TEXT = 1024  # base32 characters: 640 bytes, far above any real seed


class SeedFileError(Exception):
    """The file as a whole cannot be read; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Seed:
    """One user's seed as read from a file, not yet checked."""

    where: str  # "line 3", "key 12345"
    username: Any
    secret: bytes
    digits: Any = 6
    period: Any = 30
    algorithm: Any = "SHA1"
    groups: tuple[str, ...] = field(default=())
    drift: int = 0
    window: Any = None  # steps either side this factor accepts at most (None: the policy's window)
    email: Any = None  # where the user's notices go (None: no address in the file)


@dataclass(frozen=True)
class Rejected:
    where: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"where": self.where, "reason": self.reason}


def detect_format(name: str, data: bytes) -> str:
    """The format named by the file's extension, else guessed from its first character."""
    lower = name.lower()
    for suffixes, fmt in (((".pskc", ".pskcxml", ".xml"), "pskc"), ((".csv",), "csv"),
                          ((".jsonl", ".ndjson"), "jsonl")):
        if lower.endswith(suffixes):
            return fmt
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "pskc" if head == b"<" else "jsonl" if head == b"{" else "csv"


def decode_base32(text: str) -> bytes:
    """A base32 secret as people write it: any case, spaces and dashes ignored, padding optional."""
    compact = "".join(text.split()).replace("-", "").upper().rstrip("=")
    if not compact:
        raise ValueError("the secret is empty")
    if len(compact) > MAX_SECRET_TEXT:
        raise ValueError(f"the secret is longer than {MAX_SECRET_TEXT} base32 characters")
    try:
        return base64.b32decode(compact + "=" * (-len(compact) % 8))
    except binascii.Error:
        raise ValueError("the secret is not base32 (letters A-Z and digits 2-7)") from None


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise SeedFileError(f"the file is not UTF-8 text (line {line}, byte {exc.start})") from None


def _groups(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(g for g in value.split(";") if g)
    if isinstance(value, list) and all(isinstance(g, str) for g in value):
        return tuple(value)
    raise ValueError("groups must be a list of names (JSON) or names separated by ';' (CSV)")


def _seed_from_fields(where: str, fields: dict[str, Any]) -> Seed | Rejected:
    unknown = sorted(set(fields) - set(COLUMNS))
    if unknown:
        return Rejected(where, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(COLUMNS)}")
    missing = [name for name in REQUIRED if fields.get(name) in (None, "")]
    if missing:
        return Rejected(where, f"missing {' and '.join(missing)}")
    if not isinstance(fields["secret"], str):
        return Rejected(where, "the secret must be base32 text")
    try:
        secret = decode_base32(fields["secret"])
        groups = _groups(fields.get("groups"))
    except ValueError as exc:
        return Rejected(where, str(exc))
    numbers = {}
    for name, default in (("digits", 6), ("period", 30), ("window", None)):
        value = fields.get(name)
        if value in (None, ""):
            numbers[name] = default
        elif isinstance(value, int) and not isinstance(value, bool):
            numbers[name] = value
        elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 4:
            numbers[name] = int(value)
        else:
            return Rejected(where, f"{name} must be a whole number, got {str(value)[:20]!r}")
    algorithm = fields.get("algorithm") or "SHA1"
    return Seed(where, fields["username"], secret, numbers["digits"], numbers["period"], algorithm, groups,
                window=numbers["window"], email=fields.get("email") or None)


def read_csv(data: bytes) -> Iterator[Seed | Rejected]:
    """CSV with a header row naming at least ``username`` and ``secret`` (base32)."""
    reader = csv.reader(io.StringIO(_text(data), newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise SeedFileError("the CSV file is empty: it needs a header row with username and secret")
        names = [h.strip().lower() for h in header]
        missing = [c for c in REQUIRED if c not in names]
        unknown = [h for h in names if h not in COLUMNS]
        if missing or unknown or len(set(names)) != len(names):
            raise SeedFileError(f"the CSV header must name the columns username and secret, and may add "
                                f"{', '.join(COLUMNS[2:])} (each once); it has: {', '.join(names)[:200]}")
        for row in reader:
            where = f"line {reader.line_num}"
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                yield Rejected(where, f"{len(row)} fields where the header has {len(names)}")
                continue
            yield _seed_from_fields(where, {n: cell.strip() for n, cell in zip(names, row, strict=True)})
    except csv.Error as exc:
        raise SeedFileError(f"the CSV file is malformed at line {reader.line_num}: {exc}") from None


def read_jsonl(data: bytes) -> Iterator[Seed | Rejected]:
    """One JSON object per line: ``{"username": ..., "secret": base32, "digits"?, "period"?, ...}``."""
    for number, line in enumerate(_text(data).splitlines(), 1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            fields = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield Rejected(where, f"not JSON: {str(exc)[:100]}")
            continue
        if not isinstance(fields, dict):
            yield Rejected(where, f"a JSON object was expected, got {type(fields).__name__}")
            continue
        yield _seed_from_fields(where, fields)


def read_pskc(data: bytes, password: str | None, *, map_serial: bool) -> Iterator[Seed | Rejected]:
    """The TOTP keys of a PSKC container; a key's UserId names its user (its device's serial with ``map_serial``).

    Password-protected files (PBKDF2, RFC 6030 §6.2) need ``password``; every key's MAC is checked when
    its secret is decrypted, so a wrong password or an altered file stops the whole import.
    """
    from pskc import PSKC
    from pskc.exceptions import DecryptionError, KeyDerivationError, PSKCError

    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise SeedFileError("the PSKC file declares a DOCTYPE or entities, which PSKC never needs: refused")
    try:
        container = PSKC(io.BytesIO(data))
    except PSKCError as exc:
        raise SeedFileError(f"not a PSKC file: {exc}") from None
    except Exception as exc:  # python-pskc lets some malformed values escape as plain errors
        raise SeedFileError(f"not a PSKC file: {type(exc).__name__}: {str(exc)[:200]}") from None
    if container.encryption.is_encrypted:
        if password is None:
            raise SeedFileError("the PSKC file is encrypted: give its password with --password-stdin")
        try:
            container.encryption.derive_key(password)
        except KeyDerivationError as exc:
            raise SeedFileError(f"cannot derive the PSKC key from a password: {exc}") from None
    for number, key in enumerate(container.keys, 1):
        where = f"key {key.id}" if key.id else f"key #{number}"
        try:
            secret = key.secret
            drift = key.time_drift or 0
        except DecryptionError as exc:
            raise SeedFileError(f"{where}: cannot decrypt its secret ({exc}): wrong password or an altered "
                                "file") from None
        except Exception as exc:  # a malformed value inside the key
            yield Rejected(where, f"unreadable: {type(exc).__name__}: {str(exc)[:100]}")
            continue
        yield _seed_from_key(where, key, secret, drift, map_serial)


def _seed_from_key(where: str, key: Any, secret: bytes | None, drift: Any, map_serial: bool) -> Seed | Rejected:
    if key.algorithm != TOTP_URI:
        return Rejected(where, f"algorithm {key.algorithm!r} is not TOTP ({TOTP_URI}): only TOTP keys are imported")
    name = key.serial if map_serial else key.userid
    if not name:
        return Rejected(where, "no serial number" if map_serial else
                        "no UserId (use --map-serial to name users by their token's serial number)")
    if not secret:
        return Rejected(where, "no secret")
    if key.response_encoding not in (None, "DECIMAL"):
        return Rejected(where, f"response encoding {key.response_encoding} is not decimal")
    suite = (key.algorithm_suite or "SHA1").upper().removeprefix("HMAC-").replace("-", "")
    if not isinstance(drift, int) or abs(drift) > 1_000_000:
        return Rejected(where, f"time drift {drift!r} is not a plausible number of steps")
    return Seed(where, name, bytes(secret), key.response_length or 6, key.time_interval or 30, suite, (), drift,
                email=_pskc_address(key.userid))


def _pskc_address(userid: Any) -> str | None:
    """PSKC has no mail field, but RFC 6030 names a mail address as one form of a key's UserId: such a UserId is
    taken as the user's address too (any other form, e.g. a DN, gives none)."""
    from ..core.addresses import check_address

    try:
        return check_address(userid) if isinstance(userid, str) and "@" in userid else None
    except ValueError:
        return None
