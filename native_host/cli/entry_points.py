"""The ``tracker2fa.commands`` entry points of the installed tracker2fa distribution, read cheaply.

``importlib.metadata`` costs about 20 ms to import (it loads the ``email`` package to parse METADATA), a
third of the CLI's start-up, while the CLI needs one small file: ``entry_points.txt`` of its own
distribution. This module finds that file the way ``importlib.metadata`` does (the first
``tracker2fa-*.dist-info`` or ``tracker2fa.egg-info`` along ``sys.path``) and parses it; where there is
none (an unusual install, e.g. a zip), it asks ``importlib.metadata``. A test checks both give the same list.
No dataclasses either: ``dataclasses`` imports ``inspect``, another few milliseconds.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

DISTRIBUTION = "tracker2fa"
GROUP = "tracker2fa.commands"
# The entry-point value syntax: "module.path:attr [extra1, extra2]" (the packaging spec's object reference).
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?(\[(?P<extras>[^\]]*)\]\s*)?$")


class CommandPoint:
    """One declared sub-command: its name, ``module:attr`` value and the extras it needs."""

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CommandPoint) and (self.name, self.value) == (other.name, other.value)

    def __hash__(self) -> int:
        return hash((self.name, self.value))

    def __repr__(self) -> str:
        return f"CommandPoint({self.name!r}, {self.value!r})"

    @property
    def extras(self) -> tuple[str, ...]:
        found = self._match().group("extras") or ""
        return tuple(e.strip() for e in found.split(",") if e.strip())

    def load(self) -> Callable:
        """Import the module and return the attribute (its ``register`` function)."""
        match = self._match()
        target = importlib.import_module(match.group("module"))
        for part in (match.group("attr") or "").split("."):
            if part:
                target = getattr(target, part)
        return target  # type: ignore[return-value]

    def _match(self) -> re.Match[str]:
        match = _VALUE.match(self.value.strip())
        if match is None:
            raise ValueError(f"malformed entry point {self.name} = {self.value!r}")
        return match


def _metadata_dir() -> Path | None:
    """The distribution's metadata folder, searched along sys.path as importlib.metadata searches it."""
    for entry in sys.path:
        folder = entry or os.getcwd()
        try:
            names = os.listdir(folder)
        except OSError:  # not a folder (a zip, a missing path)
            continue
        for name in names:
            lower = name.lower()
            stem, _, suffix = lower.rpartition(".")
            if suffix in ("dist-info", "egg-info") and stem.partition("-")[0] == DISTRIBUTION:
                return Path(folder, name)
    return None


def parse_entry_points(text: str, group: str = GROUP) -> list[CommandPoint]:
    """The ``name = value`` lines of ``[group]`` in an entry_points.txt, in file order."""
    points: list[CommandPoint] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            points.append(CommandPoint(name.strip(), value.strip()))
    return points


def command_points() -> list[CommandPoint]:
    """The declared sub-commands of the installed distribution (empty when it is not installed)."""
    folder = _metadata_dir()
    if folder is not None:
        try:
            return parse_entry_points((folder / "entry_points.txt").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
    from importlib import metadata  # the slow, general path, for installs without a metadata folder

    try:
        found = metadata.distribution(DISTRIBUTION).entry_points.select(group=GROUP)
    except metadata.PackageNotFoundError:
        return []
    return [CommandPoint(ep.name, ep.value) for ep in found]
