"""``tracker2fa vault passwd`` through the real script: the master key is rotated, so nothing left behind
opens with the old password and a copy taken before the change cannot read the vault after it."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from native_host.errors import VaultCorrupt, VaultTampered, WrongPassword
from native_host.vault import VaultFile, crypto
from native_host.vault.entry import Entry
from native_host.vault.format import parse_vault

from .conftest import JIRA, PASSWORD, SECRET, run_script

NEW = "a brand new password"


@pytest.fixture
def vault_file(tmp_path: Path) -> Path:
    """A minimum-cost vault that has been saved twice, so it has a .bak under the old password."""
    path = tmp_path / "vault.json"
    vault = VaultFile(path).create(PASSWORD, kdf_cost="minimum")
    vault.add(Entry(secret=SECRET, issuer="Jira", account="ann", origins=[JIRA]))
    vault.lock()
    assert path.with_name("vault.json.bak").exists()
    return path


def _passwd(script: str, path: Path, *extra: str) -> object:
    result = run_script(script, "vault", "passwd", "--password-stdin", *extra, stdin=f"{PASSWORD}\n{NEW}\n",
                        env_vault=path)
    assert result.returncode == 0, result.stderr
    return result


def _opens_with(path: Path, password: str) -> bool:
    try:
        VaultFile(path).unlock(password).lock()
    except (WrongPassword, VaultCorrupt, VaultTampered):
        return False
    return True


def test_after_passwd_the_backup_does_not_open_with_the_old_password(script, vault_file):
    _passwd(script, vault_file)
    backup = vault_file.with_name("vault.json.bak")
    assert not _opens_with(backup, PASSWORD)
    assert _opens_with(backup, NEW)  # the backup is now a copy of the new vault


def test_after_passwd_no_file_beside_the_vault_opens_with_the_old_password(script, vault_file):
    # A writer killed mid-save leaves a temp file holding a vault under the old key.
    shutil.copy(vault_file, vault_file.with_name(".vault.json.4242.deadbeef.tmp"))
    _passwd(script, vault_file)
    left = sorted(p.name for p in vault_file.parent.iterdir())
    assert left == ["vault.json", "vault.json.bak", "vault.json.lock"]
    assert [name for name in left if _opens_with(vault_file.with_name(name), PASSWORD)] == []


def test_a_copy_taken_before_passwd_does_not_decrypt_the_vault_after_it(script, vault_file):
    stolen = parse_vault(vault_file.read_bytes())
    old_master_key = crypto.open_master_key(stolen, PASSWORD)  # what an attacker with copy + old password has
    _passwd(script, vault_file)
    with pytest.raises(VaultTampered):
        crypto.unseal(old_master_key, parse_vault(vault_file.read_bytes()))


def test_passwd_keeps_every_entry_and_the_kdf_and_cost_with_a_fresh_salt(script, vault_file):
    before = json.loads(vault_file.read_bytes())["header"]["slots"][0]["kdf"]
    _passwd(script, vault_file)
    after = json.loads(vault_file.read_bytes())["header"]["slots"][0]["kdf"]
    assert {k: v for k, v in after.items() if k != "salt"} == {k: v for k, v in before.items() if k != "salt"}
    assert after["salt"] != before["salt"]
    vault = VaultFile(vault_file).unlock(NEW)
    assert [(e.issuer, e.secret, e.origins) for e in vault.entries()] == [("Jira", SECRET, [JIRA])]


def _add_key_slot(vault_file) -> None:
    """A security-key slot (its secret made up: no key is touched by passwd)."""
    vault = VaultFile(vault_file).unlock(PASSWORD)
    vault.add_key_slot(credential_id=os.urandom(32), rp_id="tracker2fa-vault.invalid", salt=os.urandom(32),
                       secret=os.urandom(32), name="desk key")
    vault.lock()


def test_passwd_drops_a_security_key_slot_and_says_so(script, vault_file):
    _add_key_slot(vault_file)
    result = _passwd(script, vault_file, "--json")
    assert json.loads(result.stdout)["dropped_slots"] == ["the security-key slot 'desk key' (fido2-prf)"]
    assert [s["type"] for s in json.loads(vault_file.read_bytes())["header"]["slots"]] == ["password"]


def test_passwd_names_the_dropped_slots_in_its_human_output(script, vault_file):
    _add_key_slot(vault_file)
    out = _passwd(script, vault_file).stdout
    assert "Removed 1 key slot(s)" in out and "security-key slot" in out and "Add them again" in out


def test_passwd_with_the_wrong_current_password_leaves_the_vault_and_its_backup_alone(script, vault_file):
    backup = vault_file.with_name("vault.json.bak")
    before = (vault_file.read_bytes(), backup.read_bytes())
    result = run_script(script, "vault", "passwd", "--password-stdin", stdin=f"wrong\n{NEW}\n", env_vault=vault_file)
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert (vault_file.read_bytes(), backup.read_bytes()) == before


def test_passwd_killed_at_random_points_leaves_the_old_or_the_new_vault_and_never_an_old_backup(script, vault_file):
    rng, current, used = random.Random(), PASSWORD, [PASSWORD]
    for round_no in range(15):
        new = f"violet kettle orbit {round_no} saffron"
        proc = subprocess.Popen([script, "vault", "passwd", "--password-stdin"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                                env={**os.environ, "TRACKER2FA_VAULT": str(vault_file)})
        assert proc.stdin is not None
        proc.stdin.write(f"{current}\n{new}\n")
        proc.stdin.flush()
        time.sleep(rng.uniform(0.05, 0.6))  # from start-up to after the save, on a loaded machine
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        opens = [p for p in (current, new) if _opens_with(vault_file, p)]
        assert len(opens) == 1, f"round {round_no}: the vault opens with {len(opens)} of the two passwords"
        if opens[0] == new:
            assert not _opens_with(vault_file.with_name("vault.json.bak"), current), f"round {round_no}"
            used.append(new)
        current = opens[0]
        assert [e.issuer for e in VaultFile(vault_file).unlock(current).entries()] == ["Jira"]
    result = run_script(script, "vault", "passwd", "--password-stdin", stdin=f"{current}\nfinal kettle saffron orbit\n",
                        env_vault=vault_file)
    assert result.returncode == 0, result.stderr
    assert [(f.name, p) for f in vault_file.parent.iterdir() for p in used if _opens_with(f, p)] == []
