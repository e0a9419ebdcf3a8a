"""Apply real policy files to one browser process only, at the paths the browser reads.

Browser policies are machine-wide (``/etc/chromium/policies/managed/``, Firefox's ``distribution/`` folder):
writing them for real would push a test's policy into every other browser running on the machine (CI runs
several suites at once). Instead the browser starts in a private mount namespace (``unshare``, we run as
root) where a copy of the policy folder's parent, with the generated file added, is bind-mounted over the
real one. The browser sees the file exactly where an admin would put it; nothing else does, and nothing
needs cleaning up on disk afterwards.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path


def overlay(real: Path, copy_to: Path, files: dict[str, bytes]) -> Path:
    """A copy of the folder ``real`` (if it exists) at ``copy_to`` with ``files`` added (relative paths)."""
    if real.is_dir():
        shutil.copytree(real, copy_to, symlinks=True)
    else:
        copy_to.mkdir(parents=True)
    for rel, data in files.items():
        target = copy_to / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return copy_to


def namespaced_launcher(script: Path, program: str, binds: dict[Path, Path]) -> Path:
    """Write ``script``: it runs ``program`` with each ``binds`` target (an existing folder) replaced by its source.

    ``unshare`` without ``--fork`` execs in place, so the script's process id is the browser's.
    """
    mounts = " && ".join(f"mount --bind {shlex.quote(str(src))} {shlex.quote(str(dst))}" for dst, src in binds.items())
    inner = f'{mounts} && exec "$0" "$@"'
    script.write_text(
        "#!/bin/sh\n"
        f'exec unshare --mount --propagation private /bin/sh -c {shlex.quote(inner)} {shlex.quote(program)} "$@"\n'
    )
    script.chmod(0o755)
    return script


@contextlib.contextmanager
def mount_point(path: Path) -> Iterator[Path]:
    """``path`` as a folder to mount over. Created empty when missing, and removed afterwards.

    An empty folder holds no policy, so for the moment it exists it changes nothing for other browsers.
    """
    created = not path.exists()
    if created:
        path.mkdir(mode=0o755)
    try:
        yield path
    finally:
        if created:
            with contextlib.suppress(OSError):
                path.rmdir()
