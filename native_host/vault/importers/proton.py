"""Proton Authenticator JSON export (version 1, unencrypted): one otpauth URI per entry."""

from __future__ import annotations

import dataclasses
from typing import Any

from ...errors import ImportFailed
from ..entry import Entry
from ._common import Collector, expect, get, load_json, text_field
from .uris import parse_any_uri

FORMAT = "Proton Authenticator"


def _entry(item: Any) -> Entry:
    content = expect(expect(item, dict, "entry").get("content"), dict, "entry content")
    entry = parse_any_uri(get(content, "uri", str))
    name = text_field(content, "name")
    return dataclasses.replace(entry, account=name) if name else entry


def parse(data: bytes, password: str | None = None) -> Collector:
    """Read a Proton Authenticator export."""
    doc = expect(load_json(data, FORMAT), dict, "the Proton Authenticator file")
    if doc.get("version") != 1:
        raise ImportFailed(f"unsupported Proton Authenticator export version {doc.get('version')!r}")
    if "salt" in doc or ("content" in doc and "entries" not in doc):
        raise ImportFailed("encrypted Proton Authenticator exports are not supported: export unencrypted")
    collector = Collector()
    for position, item in enumerate(expect(doc.get("entries"), list, "entries"), start=1):
        collector.add(f"entry {position}", lambda item=item: _entry(item))
    return collector
