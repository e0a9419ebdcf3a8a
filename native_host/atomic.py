"""Durable, atomic file replacement: the one implementation on the user's machine.

The steps, each needed for "old file or new file, never a mix, and the new one survives a power cut":
write a temp file in the same folder (created exclusively, with its final mode from the start), fsync it,
rename it over the target, fsync the folder (the rename itself lives in the folder's entry).
``write_file_atomically`` does all of that for configuration files, manifests and keys; the vault store
(``vault/store.py``) composes the same steps with its lock and rolling backup.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def write_new_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create ``path`` (it must not exist) with ``mode``, write ``data`` whole, fsync it; on failure, remove it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def replace(source: Path, target: Path) -> None:
    """``os.replace``; on Windows, retried briefly while a reader still has ``target`` open."""
    if sys.platform != "win32":
        os.replace(source, target)
        return
    deadline = time.monotonic() + 2.0  # pragma: no cover - Windows only
    while True:  # pragma: no cover
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op on Windows, where folders cannot be opened)."""
    if sys.platform == "win32":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomically(path: Path, data: bytes, mode: int) -> Path:
    """Replace ``path`` with ``data`` (file mode ``mode``): a crash leaves the old file or the new one, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # os.urandom, not secrets: the host imports this module at start-up, and secrets pulls in random and hashlib.
    tmp = path.parent / f".tracker2fa-{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    # 0600 until written: a file meant to be 0644 is never readable half-written; then its final mode.
    write_new_file(tmp, data, 0o600)
    try:
        os.chmod(tmp, mode)
        replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
    return path
