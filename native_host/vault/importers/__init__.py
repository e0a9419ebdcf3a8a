"""Importers for other authenticator apps' export files.

``import_file(path)`` / ``import_bytes(data)`` return the entries of a file in file order. Every
format is all-or-nothing: a file with one bad record raises :class:`ImportFailed` naming the record,
unless ``skip_invalid=True`` asks to keep the good ones. Errors are always ImportFailed subclasses:

* :class:`ImportNeedsPassword` (``import_needs_password``) — encrypted, no password given: prompt;
* :class:`ImportWrongPassword` (``import_wrong_password``) — the password does not decrypt it;
* :class:`UnknownImportFormat` (``unknown_import_format``) — ``format="auto"`` did not recognise it.

Nothing here logs or prints secrets. See docs/import-formats.md for each format.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ImportFailed, UnknownImportFormat
from ..entry import Entry
from . import (
    aegis,
    andotp,
    authpro,
    authy,
    bitwarden,
    freeotp,
    google,
    internal,
    proton,
    totp_authenticator,
    twofas,
    uris,
)
from ._common import RECORD_ERRORS, Collector, describe

log = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class ImportFormat:
    """One supported file format."""

    name: str
    description: str
    parse: Callable[[bytes, str | None], Collector]
    encrypted: bool = False  # may the file be password-protected?


FORMATS: dict[str, ImportFormat] = {
    f.name: f
    for f in (
        ImportFormat("otpauth", "text file of otpauth:// URIs, one per line (also Ente Auth's export)", uris.parse),
        ImportFormat("google", "Google Authenticator export: otpauth-migration:// URIs", google.parse),
        ImportFormat("aegis", "Aegis vault export (.json), plain or encrypted", aegis.parse, True),
        ImportFormat("2fas", "2FAS backup (.2fas), schema 1–4, plain or encrypted", twofas.parse, True),
        ImportFormat("andotp", "andOTP backup (.json, or encrypted .bin in either format)", andotp.parse, True),
        ImportFormat("bitwarden", "Bitwarden unencrypted export, JSON or CSV", bitwarden.parse),
        ImportFormat("freeotp-plus", "FreeOTP+ JSON export, or FreeOTP/FreeOTP+ tokens.xml", freeotp.parse),
        ImportFormat("authenticator-pro", "Authenticator Pro / Stratum backup, plain or encrypted",
                     authpro.parse, True),
        ImportFormat("ente", "Ente Auth plain-text export (otpauth:// URIs)", uris.parse),
        ImportFormat("proton", "Proton Authenticator JSON export (unencrypted)", proton.parse),
        ImportFormat("authy", "Authy token store XML (rooted device), plain or encrypted", authy.parse, True),
        ImportFormat("totp-authenticator", "TOTP Authenticator backup or internal XML",
                     totp_authenticator.parse, True),
        ImportFormat("steam", "Steam Guard file (maFile / Steamguard JSON)", internal.parse_steam),
        ImportFormat("duo", "Duo Mobile accounts.json (rooted device)", internal.parse_duo),
        ImportFormat("battle-net", "Battle.net authenticator XML (rooted device)", internal.parse_battle_net),
    )
}


@dataclass
class ImportResult:
    """What an import produced: the entries, and the records skipped (only with ``skip_invalid``)."""

    format: str
    entries: list[Entry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _sniff_json(doc: object) -> str | None:
    if isinstance(doc, list):
        if doc and all(isinstance(i, dict) for i in doc):
            if "otpGenerator" in doc[0]:
                return "duo"
            return "andotp"
        return None
    if not isinstance(doc, dict):
        return None
    if "header" in doc and "db" in doc:
        return "aegis"
    if "schemaVersion" in doc and ("services" in doc or "servicesEncrypted" in doc):
        return "2fas"
    if "items" in doc and ("encrypted" in doc or "folders" in doc):
        return "bitwarden"
    if "tokens" in doc and "tokenOrder" in doc:
        return "freeotp-plus"
    if "Authenticators" in doc:
        return "authenticator-pro"
    if "entries" in doc and "version" in doc:
        return "proton"
    if "shared_secret" in doc or isinstance(doc.get("accounts"), dict):
        return "steam"
    return None


def sniff_format(data: bytes) -> str:
    """Guess the format of ``data``; raise UnknownImportFormat when nothing fits."""
    if authpro.is_encrypted(data):
        return "authenticator-pro"
    try:
        text = data.decode("utf-8").lstrip("\ufeff").strip()
    except UnicodeDecodeError:
        return "andotp"  # the only binary format without a magic header
    head = text[:4096]
    if text.startswith("{") or text.startswith("["):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            # Naming a format would not help: the file is damaged or cut short.
            raise ImportFailed(f"the file is JSON but broken at line {exc.lineno} ({exc.msg})") from None
        except RecursionError:
            raise ImportFailed("the file is JSON nested too deeply") from None
        found = _sniff_json(doc)
        if found:
            return found
        raise UnknownImportFormat("a JSON file, but not one of the known export formats; name it with --format")
    if text.startswith("<"):
        if "com.authy" in head or ("authy" in head and "Secret" in text):
            return "authy"
        if "STATIC_TOTP_CODES_LIST" in text:
            return "totp-authenticator"
        if "AUTHENTICATOR_DEVICE_SECRET" in text:
            return "battle-net"
        if "issuerExt" in text or "tokenOrder" in text:
            return "freeotp-plus"
        raise UnknownImportFormat("an XML file, but not one of the known app files; name it with --format")
    if "otpauth-migration://" in head:
        return "google"
    if "otpauth://" in head or "steam://" in head:
        first = head.partition("\n")[0]
        return "bitwarden" if "login_totp" in first else "otpauth"
    if "login_totp" in head.partition("\n")[0]:
        return "bitwarden"
    if text and len(text) % 4 == 0 and all(c.isalnum() or c in "+/=\n\r" for c in text[:4096]):
        return "totp-authenticator"  # its backup is one Base64 blob
    raise UnknownImportFormat("the file's format was not recognised; name it with --format")


def _plain_utf8(data: bytes) -> bytes:
    """Text saved with a byte-order mark (Windows editors) becomes plain UTF-8; anything else is unchanged."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise ImportFailed("the file starts like UTF-16 text but is not valid UTF-16") from None
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8").encode("utf-8")
        except UnicodeDecodeError:
            return data  # not text after all: leave binary formats alone
    return data


def import_result(
    data: bytes, format: str = "auto", password: str | None = None, skip_invalid: bool = False
) -> ImportResult:
    """Read ``data``; like :func:`import_bytes`, but also say which format and which records were skipped."""
    if not isinstance(data, bytes | bytearray):
        raise ImportFailed("import data must be bytes")
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFailed(f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB; no export is that big")
    data = _plain_utf8(bytes(data))
    if not data.strip():
        raise ImportFailed("the file is empty")
    name = sniff_format(bytes(data)) if format == "auto" else format
    if name not in FORMATS:
        raise UnknownImportFormat(f"unknown import format {format!r}; known: {', '.join(FORMATS)}")
    fmt = FORMATS[name]
    try:
        collected = fmt.parse(bytes(data), password)
    except ImportFailed:
        raise
    except RecursionError:
        raise ImportFailed(f"this {fmt.description} is nested too deeply") from None
    except RECORD_ERRORS as exc:
        # A structural surprise the format module did not name: still a clear, specific error.
        raise ImportFailed(f"this is not a valid {name} file: {describe(exc)}") from None
    if collected.problems and not skip_invalid:
        count = len(collected.problems)
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise ImportFailed(
            f"{collected.problems[0]}{more}. Nothing was imported; fix the file or skip bad entries."
        )
    if not collected.entries and not collected.problems:
        raise ImportFailed(f"the {name} file holds no accounts")
    if collected.problems:
        log.info("import skipped %d invalid record(s)", len(collected.problems))
    return ImportResult(format=name, entries=collected.entries, skipped=collected.problems)


def import_bytes(
    data: bytes, format: str = "auto", password: str | None = None, skip_invalid: bool = False
) -> list[Entry]:
    """The entries in ``data`` (see the module docstring for the errors)."""
    return import_result(data, format, password, skip_invalid).entries


def read_import_file(path: str | Path) -> bytes:
    """The bytes of an import file, or ImportFailed saying why it cannot be read."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise ImportFailed(f"{path.name} is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
        return path.read_bytes()
    except FileNotFoundError:
        raise ImportFailed(f"no such file: {path}") from None
    except IsADirectoryError:
        raise ImportFailed(f"{path} is a directory, not a file") from None
    except PermissionError:
        raise ImportFailed(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise ImportFailed(f"cannot read {path}: {exc.strerror}") from None


def import_file_result(
    path: str | Path, format: str = "auto", password: str | None = None, skip_invalid: bool = False
) -> ImportResult:
    """Like :func:`import_file`, also giving the detected format and the skipped records (for reports)."""
    return import_result(read_import_file(path), format, password, skip_invalid)


def import_file(
    path: str | Path, format: str = "auto", password: str | None = None, skip_invalid: bool = False
) -> list[Entry]:
    """The entries in the file at ``path``."""
    return import_file_result(path, format, password, skip_invalid).entries


__all__ = [
    "FORMATS",
    "ImportFormat",
    "ImportResult",
    "import_bytes",
    "import_file",
    "import_file_result",
    "import_result",
    "read_import_file",
    "sniff_format",
]
