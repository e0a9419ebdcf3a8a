"""``vault.entries`` in pages: as many entries as fit in one reply (the browser drops a port sent more than
1 MiB). Pure functions; no I/O.
"""

from __future__ import annotations

import json  # already loaded by framing: free on the cold-start path

TYPE_CHECKING = False  # typing itself costs ~2 ms of cold start; type checkers know this idiom
if TYPE_CHECKING:
    from typing import Any

    from .vault.entry import Entry


# What a page of entries may take: the reply cap less room for the envelope and the echoed request id
# (framing.MAX_ID_LENGTH caps ids at 256 characters, at most 12 bytes each once escaped).
PAGE_BUDGET_BYTES = 1024 * 1024 - 8 * 1024
_ENTRY_OVERHEAD_BYTES = 400  # keys, numbers and punctuation of one public entry, generously
# ensure_ascii: never shorter than the UTF-8 the writer sends, and exactly its fallback for lone surrogates.
_MEASURE = json.JSONEncoder(separators=(",", ":")).encode


def _size_bound(item: dict[str, Any]) -> int:
    """An upper bound of ``item``'s JSON size without encoding it (a character costs at most 12 bytes)."""
    text = sum(len(item[k]) for k in ("id", "issuer", "account", "label", "kind", "algorithm"))
    return _ENTRY_OVERHEAD_BYTES + 12 * (text + sum(len(o) + 3 for o in item["origins"]))


def entries_page(entries: list[Entry], offset: int) -> dict[str, Any]:
    """``{"entries": [...], "next_offset": n | None}``: as many entries from ``offset`` on as fit in a reply.

    ``next_offset`` is where the next page starts, None after the last. An entry too large for a reply on
    its own (only a vault written before the size caps can hold one) is listed shortened, ``"truncated": true``.
    """
    page: list[dict[str, Any]] = []
    bound = 2
    for entry in entries[offset:]:  # the usual case: a cheap bound shows that everything fits
        page.append(entry.public_dict())
        bound += _size_bound(page[-1]) + 1
        if bound > PAGE_BUDGET_BYTES:
            break
    else:
        return {"entries": page, "next_offset": None}
    page, used = [], 2  # the brackets
    for entry in entries[offset:]:
        item = entry.public_dict()
        size = len(_MEASURE(item)) + 1
        if size > PAGE_BUDGET_BYTES // 2:  # so that every page holds at least one entry
            item = _shortened(item)
            size = len(_MEASURE(item)) + 1
        if used + size > PAGE_BUDGET_BYTES:
            break
        page.append(item)
        used += size
    following = offset + len(page)
    return {"entries": page, "next_offset": following if following < len(entries) else None}


def _shortened(item: dict[str, Any]) -> dict[str, Any]:
    from .vault.entry import MAX_FIELD_LENGTH, MAX_ORIGINS

    short = dict(item, truncated=True)
    for name in ("issuer", "account"):
        short[name] = short[name][: MAX_FIELD_LENGTH[name]]
    short["label"] = short["label"][: MAX_FIELD_LENGTH["issuer"] + MAX_FIELD_LENGTH["account"] + 1]
    short["origins"] = [o[:2048] for o in short["origins"][:MAX_ORIGINS]]
    if len(_MEASURE(short)) > PAGE_BUDGET_BYTES // 2:
        short["origins"] = []
    return short
