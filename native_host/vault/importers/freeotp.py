"""FreeOTP+ JSON export, and the FreeOTP / FreeOTP+ app-internal ``tokens.xml``.

Secrets are lists of signed bytes. FreeOTP stores the HOTP counter of the *last used* code; it is
imported unchanged (as Aegis does), so the next code shown is the one after it.
"""

from __future__ import annotations

import json
from typing import Any

from ...errors import ImportFailed
from ..entry import Entry
from ._common import Collector, expect, int_field, load_json, make_entry, signed_bytes, text_field
from ._xml import shared_preferences

FORMAT = "FreeOTP+"
_KINDS = {"TOTP": "totp", "HOTP": "hotp", "STEAM": "steam"}


def _token(item: Any) -> Entry:
    item = expect(item, dict, "token")
    token_type = text_field(item, "type").upper() or "TOTP"
    if token_type not in _KINDS:
        raise ImportFailed(f"unsupported token type {token_type!r}")
    return make_entry(
        secret=signed_bytes(item.get("secret")),
        kind=_KINDS[token_type],
        issuer=text_field(item, "issuerExt") or text_field(item, "issuerInt"),
        account=text_field(item, "label"),
        algo=item.get("algo"),
        digits=int_field(item, "digits", 6),
        period=int_field(item, "period", 30),
        counter=int_field(item, "counter", 0),
    )


def parse_json(data: bytes, password: str | None = None) -> Collector:
    """Read a FreeOTP+ JSON export (``{"tokenOrder": [...], "tokens": [...]}``); tokens in file order."""
    doc = expect(load_json(data, FORMAT), dict, "the FreeOTP+ file")
    collector = Collector()
    for position, item in enumerate(expect(doc.get("tokens"), list, "tokens"), start=1):
        collector.add(f"token {position}", lambda item=item: _token(item))
    return collector


def parse_xml(data: bytes, password: str | None = None) -> Collector:
    """Read FreeOTP's or FreeOTP+'s ``tokens.xml``, in ``tokenOrder`` order when present."""
    values = shared_preferences(data, "FreeOTP tokens.xml")
    order_text = values.pop("tokenOrder", None)
    names = list(values)
    if order_text is not None:
        try:
            order = json.loads(order_text)
        except json.JSONDecodeError:
            raise ImportFailed("the tokenOrder value is not valid JSON") from None
        if not isinstance(order, list) or not all(isinstance(n, str) for n in order):
            raise ImportFailed("the tokenOrder value must be a list of token names")
        names = [n for n in order if n in values] + [n for n in names if n not in order]
    if not names:
        raise ImportFailed("this FreeOTP tokens.xml holds no tokens")
    collector = Collector()
    for name in names:
        collector.add(f"token {name!r}", lambda raw=values[name]: _token(load_json(raw, "FreeOTP token")))
    return collector


def parse(data: bytes, password: str | None = None) -> Collector:
    """XML if it looks like XML, else JSON."""
    if data.lstrip()[:1] == b"<":
        return parse_xml(data, password)
    return parse_json(data, password)
