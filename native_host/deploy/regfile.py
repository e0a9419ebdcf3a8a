"""Windows ``.reg`` files (``Windows Registry Editor Version 5.00``): write them, and read them back.

Only the value types policies use: REG_SZ (``"name"="text"``, ``@`` for the default value) and REG_DWORD
(``"name"=dword:0000002a``). Files are written in ASCII with CRLF line ends, which ``regedit`` and
``reg import`` accept; text values escape ``\\`` and ``"``. The parser reads what the writer writes (and
plain hand edits: comments, blank lines, any key order) and rejects anything else by line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HEADER = "Windows Registry Editor Version 5.00"
HIVE_NAMES = {"HKLM": "HKEY_LOCAL_MACHINE", "HKCU": "HKEY_CURRENT_USER"}
_HIVE_SHORT = {v: k for k, v in HIVE_NAMES.items()}

RegValue = str | int  # str: REG_SZ, int: REG_DWORD


class RegFileError(ValueError):
    """The .reg text cannot be read; the message names the line."""


@dataclass
class RegKey:
    hive: str  # HKLM or HKCU
    path: str
    values: dict[str, RegValue] = field(default_factory=dict)  # "" is the default value


def _quote(text: str) -> str:
    if any(c in text for c in "\r\n\0"):
        raise ValueError(f"a .reg text value cannot hold line breaks or NUL: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(keys: list[RegKey]) -> str:
    """The .reg text for ``keys`` (in the given order)."""
    lines = [HEADER, ""]
    for key in keys:
        if key.hive not in HIVE_NAMES or not key.path or "]" in key.path or key.path != key.path.strip("\\"):
            raise ValueError(f"bad registry key {key.hive}\\{key.path}")
        lines.append(f"[{HIVE_NAMES[key.hive]}\\{key.path}]")
        for name, value in key.values.items():
            left = "@" if name == "" else _quote(name)
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise ValueError(f"unsupported value {value!r} for {name!r}")
            if isinstance(value, int):
                if not 0 <= value <= 0xFFFFFFFF:
                    raise ValueError(f"a REG_DWORD must fit 32 bits: {value}")
                lines.append(f"{left}=dword:{value:08x}")
            else:
                lines.append(f"{left}={_quote(value)}")
        lines.append("")
    text = "\r\n".join(lines) + "\r\n"
    if not text.isascii():
        raise ValueError("a .reg file written here must be ASCII")
    return text


_STRING = r'"((?:[^"\\]|\\.)*)"'
_VALUE_LINE = re.compile(rf"^(@|{_STRING})=(?:{_STRING}|dword:([0-9a-fA-F]{{8}}))$")


def _unquote(body: str, lineno: int) -> str:
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body) or body[i + 1] not in '\\"':
                raise RegFileError(f"line {lineno}: unknown escape in {body!r}")
            out.append(body[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse(text: str) -> list[RegKey]:
    """Read .reg text into keys with their values. Raises :class:`RegFileError` naming the line."""
    text = text.lstrip("\ufeff")
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != HEADER:
        raise RegFileError(f"line 1: expected {HEADER!r}")
    keys: list[RegKey] = []
    for lineno, raw in enumerate(lines[1:], start=2):
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise RegFileError(f"line {lineno}: unterminated key {line!r}")
            hive, _, path = line[1:-1].partition("\\")
            if hive not in _HIVE_SHORT or not path:
                raise RegFileError(f"line {lineno}: unsupported key {line!r}")
            keys.append(RegKey(_HIVE_SHORT[hive], path))
            continue
        match = _VALUE_LINE.match(line)
        if match is None:
            raise RegFileError(f"line {lineno}: not a value line this reader knows: {line!r}")
        if not keys:
            raise RegFileError(f"line {lineno}: a value before any key")
        name = "" if match.group(1) == "@" else _unquote(match.group(2), lineno)
        value: RegValue = _unquote(match.group(3), lineno) if match.group(3) is not None else int(match.group(4), 16)
        keys[-1].values[name] = value
    return keys
