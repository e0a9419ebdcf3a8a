"""Google Authenticator "Transfer accounts" export: ``otpauth-migration://offline?data=...`` URIs.

``data`` is Base64 of a protobuf ``MigrationPayload`` (see docs/import-formats.md). One URI per QR
code; a large export is split into batches (``batch_size`` URIs sharing a ``batch_id``). The file
holds one URI per line; blank lines and ``#`` comments are ignored.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from ...errors import ImportFailed
from ..entry import Entry
from ._common import Collector, decode_text, make_entry
from .protobuf import as_int64, message

FORMAT = "Google Authenticator export"
SCHEME = "otpauth-migration://"

_ALGORITHMS = {0: "SHA1", 1: "SHA1", 2: "SHA256", 3: "SHA512"}  # 4 = MD5: not supported
_DIGITS = {0: 6, 1: 6, 2: 8}
_TYPES = {0: "totp", 1: "hotp", 2: "totp"}
# Google Authenticator puts about ten accounts in each QR code; a thousand codes is far beyond any real export.
MAX_BATCH_SIZE = 1000


def _last(fields: dict[int, list[int | bytes]], number: int, kind: type, default: int | bytes) -> int | bytes:
    """The last value of a field (protobuf: last one wins), checked for its wire type."""
    values = fields.get(number)
    if not values:
        return default
    value = values[-1]
    if not isinstance(value, kind):
        raise ImportFailed(f"protobuf field {number} has the wrong wire type")
    return value


def _text(fields: dict[int, list[int | bytes]], number: int, what: str) -> str:
    raw = _last(fields, number, bytes, b"")
    assert isinstance(raw, bytes)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ImportFailed(f"the {what} is not UTF-8") from None


def _otp_parameters(raw: bytes) -> Entry:
    fields = message(raw)
    secret = _last(fields, 1, bytes, b"")
    assert isinstance(secret, bytes)
    if not secret:
        raise ImportFailed("the account has no secret")
    algorithm_code = _last(fields, 4, int, 0)
    if algorithm_code not in _ALGORITHMS:
        raise ImportFailed("unsupported algorithm (MD5 or unknown)" if algorithm_code == 4 else "unknown algorithm")
    digits_code = _last(fields, 5, int, 0)
    if digits_code not in _DIGITS:
        raise ImportFailed(f"unknown digit count code {digits_code}")
    type_code = _last(fields, 6, int, 0)
    if type_code not in _TYPES:
        raise ImportFailed(f"unknown OTP type code {type_code}")
    counter = as_int64(int(_last(fields, 7, int, 0)))
    return make_entry(
        secret=secret,
        kind=_TYPES[int(type_code)],
        account=_text(fields, 2, "account name"),
        issuer=_text(fields, 3, "issuer"),
        algo=_ALGORITHMS[int(algorithm_code)],
        digits=_DIGITS[int(digits_code)],
        counter=counter,
    )


def payload_from_uri(uri: str) -> bytes:
    """The raw protobuf bytes of one ``otpauth-migration://`` URI."""
    if not uri.startswith(SCHEME):
        raise ImportFailed("not an otpauth-migration:// URI")
    _, _, query = uri.partition("?")
    data = None
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == "data":
            data = value
    if not data:
        raise ImportFailed("the URI has no data parameter")
    # Percent-decoding only: a raw '+' is Base64, not a space (some scanners do not escape it).
    text = unquote(data).strip()
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ImportFailed("cannot decode migration payload: data is not valid Base64") from None


def _check_batch(line: int, batch_size: int, batch_index: int) -> None:
    """Batch numbers come from the file: bound them before they size anything."""
    if batch_size > MAX_BATCH_SIZE:
        raise ImportFailed(f"line {line}: the export claims {batch_size} QR codes; at most {MAX_BATCH_SIZE} "
                           "are plausible, so the file is damaged")
    if not 0 <= batch_index < batch_size:
        raise ImportFailed(f"line {line}: QR code number {batch_index + 1} of an export of {batch_size} codes")


def parse(data: bytes, password: str | None = None) -> Collector:
    """Read every migration URI in the file; file-level problems raise ImportFailed."""
    text = decode_text(data, FORMAT)
    collector = Collector()
    batches: dict[int, tuple[int, set[int]]] = {}
    seen_uri = False
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.startswith(SCHEME):
            raise ImportFailed(f"line {number} is not an otpauth-migration:// URI")
        seen_uri = True
        try:
            fields = message(payload_from_uri(line))
        except ImportFailed as exc:
            raise ImportFailed(f"line {number}: cannot decode migration payload ({exc.message})") from None
        accounts = fields.get(1, [])
        if not accounts:
            raise ImportFailed(f"line {number}: cannot decode migration payload (it holds no accounts)")
        batch_size, batch_index, batch_id = (int(_last(fields, n, int, 0)) for n in (3, 4, 5))
        if batch_size > 1:
            _check_batch(number, batch_size, batch_index)
            size, indexes = batches.setdefault(batch_id, (batch_size, set()))
            if size != batch_size:
                raise ImportFailed(f"line {number}: this QR code says its export has {batch_size} codes, "
                                   f"an earlier one of the same export said {size}")
            indexes.add(batch_index)
        for position, raw in enumerate(accounts, start=1):
            where = f"line {number}, account {position}"
            if not isinstance(raw, bytes):
                collector.problems.append(f"{where}: not an account record")
                continue
            collector.add(where, lambda raw=raw: _otp_parameters(raw))
    if not seen_uri:
        raise ImportFailed("the file holds no otpauth-migration:// URI")
    for size, indexes in batches.values():
        missing = sorted(set(range(size)) - indexes)
        if missing:
            shown = ", ".join(str(i + 1) for i in missing[:10])
            raise ImportFailed(f"the export has {size} QR codes but codes {shown} are missing: scan them all")
    return collector
