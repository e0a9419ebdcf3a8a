"""native_host/atomic.py: the one atomic, durable file replacement of the user's machine (configuration,
manifests, keys; the vault store composes the same steps)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from native_host import atomic

REPO = Path(__file__).resolve().parent.parent


def test_an_atomic_write_fsyncs_the_file_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        steps.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(source: str | Path, target: str | Path) -> None:
        steps.append("rename")
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic.write_file_atomically(tmp_path / "config.json", b"{}", 0o600)
    assert steps == ["fsync file", "rename", "fsync folder"]


def test_an_atomic_write_gives_the_file_its_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "manifest.json"
    atomic.write_file_atomically(target, b"new", 0o644)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert sorted(p.name for p in target.parent.iterdir()) == ["manifest.json"]


def test_a_write_that_fails_half_way_keeps_the_old_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    """A real failure: the file-size limit (RLIMIT_FSIZE) makes write() fail with EFBIG part-way through."""
    target = tmp_path / "config.json"
    target.write_bytes(b"old")
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from pathlib import Path
        sys.path.insert(0, {str(REPO)!r})
        from native_host.atomic import write_file_atomically
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            write_file_atomically(Path({str(target)!r}), b"x" * 100_000, 0o600)
        except OSError as exc:
            print(exc.errno)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "27", done.stderr  # EFBIG: the write was refused part-way
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_write_new_file_refuses_an_existing_file_and_leaves_it_alone(tmp_path: Path) -> None:
    existing = tmp_path / "key.pem"
    existing.write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        atomic.write_new_file(existing, b"mine")
    assert existing.read_bytes() == b"theirs"
