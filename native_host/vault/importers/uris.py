"""Plain-text lists of ``otpauth://`` URIs (also Ente Auth's plain export, and Bitwarden/Proton fields).

One URI per line; blank lines and ``#`` comments are ignored. Unknown parameters (Ente's
``codeDisplay``) are ignored. ``steam://SECRET`` (Bitwarden's and Proton's Steam syntax) is accepted
where a single URI is expected.
"""

from __future__ import annotations

from ...errors import ImportFailed
from ..entry import Entry
from ..otpauth import parse_otpauth_uri
from ._common import Collector, decode_text

FORMAT = "otpauth URI list"


def parse_any_uri(value: str) -> Entry:
    """An ``otpauth://`` URI, or ``steam://SECRET`` (issuer "Steam", account "Steam account")."""
    value = value.strip()
    if value.lower().startswith("steam://"):
        return Entry(secret=value[len("steam://") :], kind="steam", issuer="Steam", account="Steam account")
    return parse_otpauth_uri(value)


def parse(data: bytes, password: str | None = None) -> Collector:
    """Read one URI per line."""
    collector = Collector()
    seen = False
    for number, line in enumerate(decode_text(data, FORMAT).splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        seen = True
        collector.add(f"line {number}", lambda line=line: parse_otpauth_uri(line))
    if not seen:
        raise ImportFailed("the file holds no otpauth:// URI")
    return collector
