"""The vault file on disk: a cross-process lock and atomic, durable replacement with a rolling backup.

Readers never take the lock: a save replaces the file with ``os.replace``, so a reader sees the old file
or the new one, never a mix. Writers serialise on ``<vault>.lock`` (fcntl on POSIX, msvcrt on Windows).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from ..atomic import fsync_directory as _fsync_dir
from ..atomic import replace as _replace
from ..atomic import write_new_file
from ..errors import VaultError, VaultNotFound

LOCK_TIMEOUT_SECONDS = 30.0


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}."


@contextlib.contextmanager
def file_lock(path: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold the exclusive cross-process lock of the vault at ``path`` (a sibling ``.lock`` file)."""
    lock_file = lock_path(path)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            deadline = time.monotonic() + timeout
            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise VaultError(f"another process holds the vault lock {lock_file}") from None
                    time.sleep(0.01)
            try:
                yield
            finally:
                os.lseek(fd, 0, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise VaultError(f"another process has held the vault lock {lock_file} for too long") from None
                    time.sleep(0.002)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def read_vault_bytes(path: Path) -> bytes:
    """The file's bytes; VaultNotFound when it does not exist."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise VaultNotFound(f"no vault at {path}; create one with `tracker2fa vault init`") from None
    except IsADirectoryError:
        raise VaultError(f"{path} is a directory, not a vault file") from None


def remove_stale_temp_files(path: Path) -> None:
    """Delete temp files left by a writer that was killed mid-save. Call only while holding the lock."""
    prefix = _tmp_prefix(path)
    with contextlib.suppress(OSError):
        for name in os.listdir(path.parent):
            if name.startswith(prefix) and name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(path.parent / name)


def atomic_write(path: Path, data: bytes, *, keep_backup: bool = True, backup_is_new: bool = False) -> None:
    """Replace ``path`` with ``data`` durably; the previous version becomes ``<path>.bak``.

    Order: write a 0600 temp file and fsync it; hard-link the current file to a temp name and rename it
    over the backup (no copy, atomic); rename the temp file over ``path``; fsync the directory. A crash at
    any point leaves ``path`` holding the old or the new bytes in full. Call while holding the lock.

    ``backup_is_new`` (after a master-key rotation): the backup becomes the *new* bytes instead, replaced
    before ``path`` is, so no moment leaves the previous version in the backup once ``path`` is new.
    """
    directory = path.parent
    tmp = directory / f"{_tmp_prefix(path)}{os.getpid()}.{secrets.token_hex(4)}.tmp"
    write_new_file(tmp, data, 0o600)
    try:
        if backup_is_new:
            staged = _staged_backup_name(path)
            _link_or_copy(tmp, staged, data)
            _replace(staged, backup_path(path))
        elif keep_backup and path.exists():
            _rotate_backup(path)
        _replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _rotate_backup(path: Path) -> None:
    backup = backup_path(path)
    try:
        if os.path.samefile(path, backup):
            # A save killed between rotating and renaming left both names on one file. rename() between two
            # links of one file is a no-op that would leave the staged link behind; the backup is current.
            return
    except FileNotFoundError:
        pass
    staged = _staged_backup_name(path)
    _link_or_copy(path, staged)
    _replace(staged, backup)


def _staged_backup_name(path: Path) -> Path:
    """A fresh temp name for the next backup (swept by :func:`remove_stale_temp_files` if a save dies)."""
    return path.parent / f"{_tmp_prefix(path)}bak.{secrets.token_hex(4)}.tmp"


def _link_or_copy(source: Path, target: Path, data: bytes | None = None) -> None:
    """Hard-link ``source`` as ``target``; on a file system without hard links, write a 0600 copy."""
    try:
        os.link(source, target)
        return
    except OSError:
        pass
    if data is None:
        with open(source, "rb") as src:
            data = src.read()
    write_new_file(target, data, 0o600)


def ensure_private_directory(directory: Path) -> None:
    """Create the vault's directory (0700) when it does not exist yet."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
