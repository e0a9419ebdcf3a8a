"""The operating system a deployment targets: its path syntax, its per-user folders, and where its files live.

A :class:`TargetOS` describes *another* machine as well as this one: ``tracker2fa install --os windows
--dry-run`` plans a Windows layout on Linux. Paths are kept in the target's own syntax
(``PurePosixPath`` or ``PureWindowsPath``); :meth:`TargetOS.on_disk` maps them onto this machine's file
system, under ``root`` when one is given (a fake root in tests, a staging folder when building an image).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

from .manifest import DeployError

OS_NAMES = ("linux", "macos", "windows")


def current_os() -> str:
    """This machine's OS as one of :data:`OS_NAMES` (other Unixes are treated as Linux)."""
    if sys.platform == "win32":
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return "linux"


@dataclass(frozen=True)
class TargetOS:
    """One OS layout: its name, the user's home in its syntax, the variables that move folders, a disk root."""

    name: str
    home: PurePath
    env: Mapping[str, str] = field(default_factory=dict)
    root: Path | None = None  # None: target paths are this machine's own paths
    example: bool = False  # an example machine (documentation): plan only, never read or write

    @property
    def is_windows(self) -> bool:
        return self.name == "windows"

    def path(self, *parts: str | PurePath) -> PurePath:
        """A path in the target's syntax."""
        return (PureWindowsPath if self.is_windows else PurePosixPath)(*parts)

    def is_absolute(self, text: str) -> bool:
        return self.path(text).is_absolute() if self.is_windows else text.startswith("/")

    @property
    def is_local(self) -> bool:
        """True when target paths can be read and written on this machine (same OS, or a fake root)."""
        return not self.example and (self.root is not None or self.name == current_os())

    def on_disk(self, path: PurePath) -> Path:
        """Where the target ``path`` is on this machine's disk."""
        if self.root is None:
            if not self.is_local:
                raise DeployError(f"{path} is on a {self.name} machine, not this one")
            return Path(path)
        if self.is_windows:
            wp = PureWindowsPath(path)
            drive = wp.drive.rstrip(":") or "C"
            return self.root.joinpath(drive, *wp.parts[1:])
        return self.root.joinpath(*PurePosixPath(path).parts[1:])

    # -- folders the layouts are built from

    def xdg_config_home(self) -> PurePath:
        xdg = self.env.get("XDG_CONFIG_HOME", "")
        return self.path(xdg) if xdg.startswith("/") else self.home / ".config"

    def xdg_data_home(self) -> PurePath:
        xdg = self.env.get("XDG_DATA_HOME", "")
        return self.path(xdg) if xdg.startswith("/") else self.home / ".local" / "share"

    def mac_app_support(self) -> PurePath:
        return self.home / "Library" / "Application Support"

    def local_app_data(self) -> PurePath:
        return self.path(self.env.get("LOCALAPPDATA") or str(self.home / "AppData" / "Local"))

    def program_files(self) -> PurePath:
        return self.path(self.env.get("ProgramFiles") or "C:\\Program Files")


# Variables the layouts read; copied from this machine's environment when planning for it.
_LAYOUT_VARS = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "LOCALAPPDATA", "ProgramFiles")

_EXAMPLE_HOMES = {"linux": "/home/user", "macos": "/Users/user", "windows": "C:\\Users\\user"}


def target_os(
    name: str | None = None,
    *,
    home: str | PurePath | None = None,
    root: Path | None = None,
    env: Mapping[str, str] | None = None,
    example: bool = False,
) -> TargetOS:
    """The layout for ``name`` (default: this machine).

    On this machine the real home and environment apply; for another OS (a dry-run plan) an example home
    (``/home/user``, ``/Users/user``, ``C:\\Users\\user``) stands in unless ``home`` is given.
    """
    name = name or current_os()
    if name not in OS_NAMES:
        raise DeployError(f"unknown OS {name!r}; choose one of {', '.join(OS_NAMES)}")
    local = root is None and name == current_os() and not example
    if env is None:
        env = {k: os.environ[k] for k in _LAYOUT_VARS if os.environ.get(k)} if local else {}
    if home is None:
        home = str(Path.home()) if local else _EXAMPLE_HOMES[name]
    flavour = PureWindowsPath if name == "windows" else PurePosixPath
    return TargetOS(name, flavour(home), dict(env), root, example)
