"""Saves survive kill -9, concurrent writers lose nothing, damaged files are never written over."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from native_host.errors import VaultCorrupt, VaultTampered
from native_host.vault import VaultFile
from native_host.vault.entry import Entry

from .conftest import PASSWORD, SECRET_160

REPO = Path(__file__).resolve().parents[2]

# Adds entries named PREFIX-0, PREFIX-1, ... one save each, printing the count after each save returned.
WRITER = textwrap.dedent(
    """
    import sys
    from native_host.vault import VaultFile
    from native_host.vault.entry import Entry
    path, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    vault = VaultFile(path).unlock(sys.stdin.readline().rstrip("\\n"))
    print("ready", flush=True)
    sys.stdin.readline()  # "go": lets the test start several writers at once
    for i in range(count):
        vault.add(Entry(secret="GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", issuer=f"{prefix}-{i}"))
        print(i + 1, flush=True)
    """
)


def _writer(path: Path, prefix: str, count: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), prefix, str(count)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(PASSWORD + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _go(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()


def _issuers(path: Path) -> list[str]:
    return [e.issuer for e in VaultFile(path).unlock(PASSWORD).entries()]


def test_a_writer_killed_at_random_points_always_leaves_the_old_or_the_new_vault(vault_path):
    VaultFile(vault_path).create(PASSWORD, kdf_cost="minimum").lock()
    rng = random.Random()
    expected: list[str] = []
    for round_no in range(25):
        proc = _writer(vault_path, f"r{round_no}", 10_000)
        _go(proc)
        assert proc.stdout is not None
        acknowledged = int(proc.stdout.readline())  # at least one save done: the kill lands mid-stream
        # The kill lands at a random point: in a save, between saves, or while reading.
        for _ in range(rng.randrange(0, 8)):
            acknowledged = int(proc.stdout.readline())
        time.sleep(rng.uniform(0, 0.01))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # Everything it printed before dying: the count of saves that returned.
        acknowledged = max([acknowledged, *(int(line) for line in proc.stdout.read().split())])
        issuers = _issuers(vault_path)
        added = len(issuers) - len(expected)
        # The saves that returned, plus at most the one that was running when the kill came.
        assert added in (acknowledged, acknowledged + 1)
        assert issuers == expected + [f"r{round_no}-{i}" for i in range(added)]
        expected = issuers
    # The next save sweeps away the temp files the killed writers left behind.
    VaultFile(vault_path).unlock(PASSWORD).add(Entry(secret=SECRET_160, issuer="after"))
    assert not [p for p in vault_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_two_processes_adding_at_once_lose_no_entry(vault_path):
    VaultFile(vault_path).create(PASSWORD, kdf_cost="minimum").lock()
    writers = [_writer(vault_path, name, 25) for name in ("a", "b")]
    for proc in writers:
        _go(proc)
    for proc in writers:
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    issuers = _issuers(vault_path)
    assert sorted(issuers) == sorted([f"a-{i}" for i in range(25)] + [f"b-{i}" for i in range(25)])


def test_two_open_vaults_in_one_process_see_each_others_entries(vault, vault_path):
    other = VaultFile(vault_path).unlock(PASSWORD)
    vault.add(Entry(secret=SECRET_160, issuer="first"))
    other.add(Entry(secret=SECRET_160, issuer="second"))
    assert [e.issuer for e in vault.entries()] == ["Jira", "first", "second"]


def test_an_edit_against_a_tampered_file_is_refused_and_the_file_is_left_alone(vault, vault_path):
    doc = json.loads(vault_path.read_bytes())
    doc["db"] = ("B" if doc["db"][5] == "A" else "A").join((doc["db"][:5], doc["db"][6:]))
    vault_path.write_text(json.dumps(doc, indent=1))
    before = vault_path.read_bytes()
    with pytest.raises(VaultTampered):
        vault.add(Entry(secret=SECRET_160, issuer="lost?"))
    assert vault_path.read_bytes() == before


def test_an_edit_against_a_truncated_file_is_refused_and_the_file_is_left_alone(vault, vault_path):
    vault_path.write_bytes(vault_path.read_bytes()[:100])
    before = vault_path.read_bytes()
    with pytest.raises(VaultCorrupt):
        vault.remove(vault.entries()[0].id)
    assert vault_path.read_bytes() == before


def test_the_backup_holds_the_previous_version(vault, vault_path):
    vault.add(Entry(secret=SECRET_160, issuer="second"))
    backup = VaultFile(vault_path.with_name("vault.json.bak")).unlock(PASSWORD)
    assert [e.issuer for e in backup.entries()] == ["Jira"]
    assert [e.issuer for e in VaultFile(vault_path).unlock(PASSWORD).entries()] == ["Jira", "second"]


def test_a_save_after_one_killed_between_backup_and_rename_leaves_no_stray_link(vault, vault_path):
    # The state a kill leaves after the backup link was renamed into place but before the new file was.
    backup = vault_path.with_name("vault.json.bak")
    backup.unlink()
    os.link(vault_path, backup)
    vault.add(Entry(secret=SECRET_160, issuer="next"))
    assert not [p for p in vault_path.parent.iterdir() if p.name.endswith(".tmp")]
    assert [e.issuer for e in VaultFile(backup).unlock(PASSWORD).entries()] == ["Jira"]
    assert [e.issuer for e in VaultFile(vault_path).unlock(PASSWORD).entries()] == ["Jira", "next"]


class DurabilitySpy:
    """Records the steps of a save as the kernel sees them: each fsync (of a file, or of a folder and which)
    and each rename (and onto what)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.steps: list[tuple[str, tuple[int, int]]] = []
        real_fsync, real_replace = os.fsync, os.replace

        def fsync(fd: int) -> None:
            info = os.fstat(fd)
            kind = "fsync folder" if stat.S_ISDIR(info.st_mode) else "fsync file"
            self.steps.append((kind, (info.st_dev, info.st_ino)))
            real_fsync(fd)

        def replace(source, target) -> None:
            real_replace(source, target)
            info = os.stat(target)
            self.steps.append(("rename", (info.st_dev, info.st_ino)))

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)

    def around_the_rename_onto(self, path: Path) -> tuple[list[tuple[str, tuple[int, int]]], ...]:
        """The steps before and after the last rename that put ``path`` in place."""
        last = max(i for i, step in enumerate(self.steps) if step == ("rename", _identity(path)))
        return self.steps[:last], self.steps[last + 1:]


def _identity(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_dev, info.st_ino


SAVES = {
    "create": lambda path: VaultFile(path).create(PASSWORD, kdf_cost="minimum"),
    "add": lambda path: VaultFile(path).unlock(PASSWORD).add(Entry(secret=SECRET_160, issuer="GitLab")),
    "change the password": lambda path: VaultFile(path).unlock(PASSWORD).change_password(PASSWORD, "a new passphrase!"),
}


@pytest.mark.parametrize("save", SAVES)
def test_each_vault_save_fsyncs_the_vaults_folder_after_renaming_the_new_file_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, save: str
) -> None:
    vault_path = tmp_path / "vault" / "vault.json"
    if save != "create":
        SAVES["create"](vault_path)
    spy = DurabilitySpy(monkeypatch)
    SAVES[save](vault_path)
    before, after = spy.around_the_rename_onto(vault_path)
    assert ("fsync file", _identity(vault_path)) in before, f"the new file was not fsynced first: {spy.steps}"
    assert ("fsync folder", _identity(vault_path.parent)) in after, f"no fsync of the folder after: {spy.steps}"
