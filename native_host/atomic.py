"""Small atomic file writes for configuration files (the vault has its own locked store)."""

from __future__ import annotations

import os
from pathlib import Path


def write_file_atomically(path: Path, data: bytes, mode: int) -> Path:
    """Write ``data`` to ``path`` via a temp file in the same folder (fsync, chmod, rename).

    A crash leaves either the old file or the new one, never a half-written file.
    """
    import tempfile  # lazily: only writers pay for it, never the host's start-up

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tracker2fa-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
