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
    title: str  # the app's own name, for messages ("this is not a valid Aegis file")
    description: str
    parse: Callable[[bytes, str | None], Collector]
    encrypted: bool = False  # may the file be password-protected?


FORMATS: dict[str, ImportFormat] = {
    f.name: f
    for f in (
        ImportFormat("otpauth", "otpauth URI list",
                     "text file of otpauth:// URIs, one per line (also Ente Auth's export)", uris.parse),
        ImportFormat("google", "Google Authenticator export",
                     "Google Authenticator export: otpauth-migration:// URIs", google.parse),
        ImportFormat("aegis", "Aegis", "Aegis vault export (.json), plain or encrypted", aegis.parse, True),
        ImportFormat("2fas", "2FAS", "2FAS backup (.2fas), schema 1–4, plain or encrypted", twofas.parse, True),
        ImportFormat("andotp", "andOTP", "andOTP backup (.json, or encrypted .json.aes in either format)",
                     andotp.parse, True),
        ImportFormat("bitwarden", "Bitwarden", "Bitwarden unencrypted export, JSON or CSV", bitwarden.parse),
        ImportFormat("freeotp-plus", "FreeOTP+", "FreeOTP+ JSON export, or FreeOTP/FreeOTP+ tokens.xml",
                     freeotp.parse),
        ImportFormat("authenticator-pro", "Authenticator Pro",
                     "Authenticator Pro / Stratum backup, plain or encrypted", authpro.parse, True),
        ImportFormat("ente", "Ente Auth", "Ente Auth plain-text export (otpauth:// URIs)", uris.parse),
        ImportFormat("proton", "Proton Authenticator", "Proton Authenticator JSON export (unencrypted)",
                     proton.parse),
        ImportFormat("authy", "Authy", "Authy token store XML (rooted device), plain or encrypted", authy.parse,
                     True),
        ImportFormat("totp-authenticator", "TOTP Authenticator", "TOTP Authenticator backup or internal XML",
                     totp_authenticator.parse, True),
        ImportFormat("steam", "Steam Guard", "Steam Guard file (maFile / Steamguard JSON)", internal.parse_steam),
        ImportFormat("duo", "Duo Mobile", "Duo Mobile accounts.json (rooted device)", internal.parse_duo),
        ImportFormat("battle-net", "Battle.net", "Battle.net authenticator XML (rooted device)",
                     internal.parse_battle_net),
    )
}


def unrecognised(what: str) -> UnknownImportFormat:
    """The error for a file ``auto`` could not place: what it looked like, and every format we read."""
    names = ", ".join(FORMATS)
    return UnknownImportFormat(f"format not recognised: {what}. Supported formats: {names}. If the file is "
                               "one of these, name it with --format NAME (see docs/import-formats.md)")


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


def sniff_format(data: bytes, file_name: str | None = None) -> str:
    """Guess the format of ``data``; raise UnknownImportFormat when nothing fits.

    Each answer needs a structure the app really writes, so that random bytes are "not recognised" rather
    than taken for an encrypted file (which would ask for a password and then blame it). ``file_name`` is
    only a hint for the one file no content can identify: andOTP's old encrypted format, saved by the app as
    ``otp_accounts*.json.aes``.
    """
    if authpro.is_encrypted(data):
        return "authenticator-pro"
    if andotp.has_current_header(data):
        return "andotp"
    try:
        text = data.decode("utf-8").lstrip("\ufeff").strip()
    except UnicodeDecodeError:
        if file_name and file_name.lower().endswith(andotp.ENCRYPTED_SUFFIX):
            return "andotp"  # named as andOTP names its backups: either encrypted format
        raise unrecognised(
            "a binary file without the header of any binary format (an encrypted andOTP backup in the old "
            "format has none: for one, give --format andotp)"
        ) from None
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
        raise unrecognised("a JSON file, but not one of the known export formats")
    if text.startswith("<"):
        if "com.authy" in head or ("authy" in head and "Secret" in text):
            return "authy"
        if "STATIC_TOTP_CODES_LIST" in text:
            return "totp-authenticator"
        if "AUTHENTICATOR_DEVICE_SECRET" in text:
            return "battle-net"
        if "issuerExt" in text or "tokenOrder" in text:
            return "freeotp-plus"
        raise unrecognised("an XML file, but not one of the known app files")
    if "otpauth-migration://" in head:
        return "google"
    if "otpauth://" in head or "steam://" in head:
        first = head.partition("\n")[0]
        return "bitwarden" if "login_totp" in first else "otpauth"
    if "login_totp" in head.partition("\n")[0]:
        return "bitwarden"
    if totp_authenticator.looks_like_backup(text):
        return "totp-authenticator"
    raise unrecognised("text that is none of the known exports")


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


def _prepared(data: bytes) -> bytes:
    """``data`` checked for type and size, as UTF-8 if it was UTF-16 text; ImportFailed when empty."""
    if not isinstance(data, bytes | bytearray):
        raise ImportFailed("import data must be bytes")
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFailed(f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB; no export is that big")
    data = _plain_utf8(bytes(data))
    if not data.strip():
        raise ImportFailed("the file is empty")
    return data


def _format_name(data: bytes, format: str, file_name: str | None) -> str:
    name = sniff_format(data, file_name) if format == "auto" else format
    if name not in FORMATS:
        raise UnknownImportFormat(f"unknown import format {format!r}; known: {', '.join(FORMATS)}")
    return name


def detect_format(data: bytes, format: str = "auto", file_name: str | None = None) -> str:
    """The format ``data`` will be read as (``format`` checked, or ``auto`` resolved), without decrypting.

    Lets a caller refuse a file it cannot read before asking for any password.
    """
    return _format_name(_prepared(data), format, file_name)


def import_result(
    data: bytes, format: str = "auto", password: str | None = None, skip_invalid: bool = False,
    *, file_name: str | None = None,
) -> ImportResult:
    """Read ``data``; like :func:`import_bytes`, but also say which format and which records were skipped.

    ``file_name`` (the file's name, if it came from one) helps ``auto`` only where content cannot.
    """
    data = _prepared(data)
    fmt = FORMATS[_format_name(data, format, file_name)]
    try:
        collected = fmt.parse(bytes(data), password)
    except ImportFailed:
        raise
    except RecursionError:
        raise ImportFailed(f"this {fmt.description} is nested too deeply") from None
    except RECORD_ERRORS as exc:
        # A structural surprise the format module did not name: still a clear, specific error.
        raise ImportFailed(f"this is not a valid {fmt.title} file: {describe(exc)}") from None
    if collected.problems and not skip_invalid:
        count = len(collected.problems)
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise ImportFailed(
            f"{collected.problems[0]}{more}. Nothing was imported; fix the file or skip bad entries."
        )
    if not collected.entries and not collected.problems:
        raise ImportFailed(f"the {fmt.title} file holds no accounts")
    if collected.problems:
        log.info("import skipped %d invalid record(s)", len(collected.problems))
    return ImportResult(format=fmt.name, entries=collected.entries, skipped=collected.problems)


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
    return import_result(read_import_file(path), format, password, skip_invalid, file_name=Path(path).name)


def import_file(
    path: str | Path, format: str = "auto", password: str | None = None, skip_invalid: bool = False
) -> list[Entry]:
    """The entries in the file at ``path``."""
    return import_file_result(path, format, password, skip_invalid).entries


__all__ = [
    "FORMATS",
    "ImportFormat",
    "ImportResult",
    "detect_format",
    "import_bytes",
    "import_file",
    "import_file_result",
    "import_result",
    "read_import_file",
    "sniff_format",
    "unrecognised",
]
