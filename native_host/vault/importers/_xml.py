"""Android SharedPreferences XML (``<map><string name=...>...</string></map>``), read safely."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ...errors import ImportFailed
from ._common import decode_text

MAX_XML_BYTES = 16 * 1024 * 1024


def shared_preferences(data: bytes, fmt: str) -> dict[str, str]:
    """The ``<string>`` values of a SharedPreferences file by name (other element types are ignored)."""
    if len(data) > MAX_XML_BYTES:
        raise ImportFailed(f"this {fmt} file is too large")
    text = decode_text(data, fmt)
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        # SharedPreferences never declare entities; refusing them rules out entity-expansion bombs.
        raise ImportFailed(f"this {fmt} file declares XML entities, which Android never writes")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ImportFailed(f"this is not a valid {fmt} file: bad XML ({exc})") from None
    if root.tag != "map":
        raise ImportFailed(f"this is not a valid {fmt} file: the XML root is <{root.tag}>, not <map>")
    return {el.get("name", ""): el.text or "" for el in root if el.tag == "string"}
