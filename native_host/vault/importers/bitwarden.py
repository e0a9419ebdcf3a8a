"""Bitwarden unencrypted exports, JSON and CSV: the TOTP field of each login item.

The field holds an ``otpauth://`` URI, ``steam://SECRET``, or a bare Base32 secret (then the item name
is the issuer and the login user name the account). Items without a TOTP field are not OTP accounts
and are skipped silently. Password-protected Bitwarden exports are not supported.
"""

from __future__ import annotations

import csv
import io

from ...errors import ImportFailed
from ..entry import Entry
from ._common import Collector, decode_text, expect, load_json
from .uris import parse_any_uri

FORMAT = "Bitwarden"


def _totp_entry(totp: str, name: str, username: str) -> Entry:
    totp = totp.strip()
    if "://" in totp:
        return parse_any_uri(totp)
    return Entry(secret=totp, issuer=name.strip(), account=username.strip())


def parse_json(data: bytes, password: str | None = None) -> Collector:
    """Read a Bitwarden JSON export."""
    doc = expect(load_json(data, FORMAT), dict, "the Bitwarden file")
    if doc.get("encrypted") is True or "passwordProtected" in doc:
        raise ImportFailed("encrypted Bitwarden exports are not supported: export as unencrypted JSON or CSV")
    collector = Collector()
    for position, item in enumerate(expect(doc.get("items"), list, "items"), start=1):
        if not isinstance(item, dict):
            collector.problems.append(f"item {position}: not an object")
            continue
        login = item.get("login")
        totp = login.get("totp") if isinstance(login, dict) else None
        if not totp:
            continue
        name, username = str(item.get("name") or ""), str(login.get("username") or "")
        collector.add(f"item {position}", lambda t=totp, n=name, u=username: _totp_entry(expect(t, str, "totp"), n, u))
    return collector


def parse_csv(data: bytes, password: str | None = None) -> Collector:
    """Read a Bitwarden CSV export (column ``login_totp``)."""
    text = decode_text(data, FORMAT)
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ImportFailed(f"this is not a valid Bitwarden CSV file ({exc})") from None
    if not rows and "login_totp" not in text.partition("\n")[0]:
        raise ImportFailed("this is not a Bitwarden CSV file: no login_totp column")
    if rows and "login_totp" not in rows[0]:
        raise ImportFailed("this is not a Bitwarden CSV file: no login_totp column")
    collector = Collector()
    for position, row in enumerate(rows, start=2):
        totp = row.get("login_totp")
        if not totp:
            continue
        name, username = row.get("name") or "", row.get("login_username") or ""
        collector.add(f"line {position}", lambda t=totp, n=name, u=username: _totp_entry(t, n, u))
    return collector


def parse(data: bytes, password: str | None = None) -> Collector:
    """JSON if it looks like JSON, else CSV."""
    if data.lstrip()[:1] == b"{":
        return parse_json(data, password)
    return parse_csv(data, password)
