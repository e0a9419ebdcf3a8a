"""Where each key of a TOML file is written: ``{key path: line}``, so that a semantic error names its line.

:mod:`tomllib` reports the line of a syntax error but keeps no positions for what it parsed. This scanner
walks the text once, beside tomllib (which has already accepted it), and records the line of every table
header and every ``key = value`` at the top of a statement. Paths are tuples: table and key names, with the
index of each ``[[array of tables]]`` element, e.g. ``("access_control", "rules", 2, "policy")``.

It tracks what can span lines (multi-line strings, arrays) so that text inside them is never taken for a
key. Keys inside inline tables are not indexed; :meth:`LineIndex.line` then falls back to the nearest
enclosing key that is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Path = tuple[str | int, ...]
_BARE = r"[A-Za-z0-9_-]+"
_BASIC = r'"(?:[^"\\\n]|\\.)*"'
_LITERAL = r"'[^'\n]*'"
_KEY_PART = rf"(?:{_BARE}|{_BASIC}|{_LITERAL})"
_KEY = rf"{_KEY_PART}(?:[ \t]*\.[ \t]*{_KEY_PART})*"
_HEADER_RE = re.compile(rf"[ \t]*(\[\[?)[ \t]*({_KEY})[ \t]*\]\]?")
_ASSIGN_RE = re.compile(rf"[ \t]*({_KEY})[ \t]*=")
_PART_RE = re.compile(_KEY_PART)
_ESCAPES = {'"': '"', "\\": "\\", "b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r"}


def key_parts(key: str) -> list[str]:
    """The names of a dotted key, quotes removed (basic strings unescaped for the common escapes)."""
    parts = []
    for raw in _PART_RE.findall(key):
        if raw.startswith('"'):
            parts.append(re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), raw[1:-1]))
        elif raw.startswith("'"):
            parts.append(raw[1:-1])
        else:
            parts.append(raw)
    return parts


@dataclass
class LineIndex:
    """The line (1-based) of every table header and key of one TOML text."""

    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """The line of ``path``, else of its nearest indexed ancestor, else None."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    @classmethod
    def of(cls, text: str) -> LineIndex:
        """Index ``text`` (which tomllib has already parsed without error)."""
        index = cls()
        counters: dict[Path, int] = {}  # array-of-tables path (with indices) -> elements seen
        table: Path = ()
        scanner = _Scanner()
        for number, line in enumerate(text.splitlines(), start=1):
            if scanner.at_statement_start:
                header = _HEADER_RE.match(line)
                if header:
                    table = _resolve(key_parts(header.group(2)), counters)
                    if header.group(1) == "[[":
                        position = counters.get(table, 0)
                        counters[table] = position + 1
                        table = (*table, position)
                    index.lines.setdefault(table, number)
                    scanner.scan(line[header.end():])
                    continue
                assign = _ASSIGN_RE.match(line)
                if assign:
                    path: Path = table
                    for part in key_parts(assign.group(1)):
                        path = (*path, part)
                        index.lines.setdefault(path, number)
                    scanner.scan(line[assign.end():])
                    continue
            scanner.scan(line)
        return index


def _resolve(parts: list[str], counters: dict[Path, int]) -> Path:
    """A header's path, with the current element index of every array of tables it passes through."""
    path: Path = ()
    for i, part in enumerate(parts):
        path = (*path, part)
        if path in counters and i < len(parts) - 1:  # the header's own name is not descended into
            path = (*path, counters[path] - 1)
    return path


class _Scanner:
    """Carries the state that spans lines: an open multi-line string, open brackets and braces."""

    def __init__(self) -> None:
        self.depth = 0
        self.open_string: str | None = None  # '"""' or "'''" while inside one

    @property
    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.open_string is None

    def scan(self, text: str) -> None:
        i, n = 0, len(text)
        while i < n:
            if self.open_string:
                end = self._string_end(text, i, self.open_string)
                if end < 0:
                    return
                self.open_string, i = None, end
                continue
            c = text[i]
            if c == "#":
                return
            if text.startswith('"""', i) or text.startswith("'''", i):
                self.open_string, i = text[i:i + 3], i + 3
                continue
            if c in "\"'":
                end = self._string_end(text, i + 1, c)
                i = n if end < 0 else end
                continue
            if c in "[{":
                self.depth += 1
            elif c in "]}":
                self.depth = max(0, self.depth - 1)
            i += 1

    @staticmethod
    def _string_end(text: str, i: int, quote: str) -> int:
        """The index after the closing ``quote`` (escapes honoured in basic strings), or -1."""
        basic = quote[0] == '"'
        while i < len(text):
            if basic and text[i] == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                end = i + len(quote)
                # A multi-line string may end with up to two extra quotes of its kind (TOML 1.0).
                while len(quote) == 3 and end < len(text) and text[end] == quote[0] and end - i < 5:
                    end += 1
                return end
            i += 1
        return -1
