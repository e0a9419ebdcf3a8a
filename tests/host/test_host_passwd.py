"""A password change from the CLI while a host process has the vault unlocked: the host's old master key
is useless afterwards, so it reports the vault locked and opens only with the new password."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from native_host.vault import VaultFile
from native_host.vault.entry import Entry

PASSWORD = "correct horse battery staple"
NEW = "a brand new password"
JIRA = "https://jira.example.com"


def _tracker2fa() -> str:
    return shutil.which("tracker2fa") or str(Path(sys.executable).parent / "tracker2fa")


def test_a_host_with_the_vault_unlocked_finds_it_locked_after_passwd_and_unlocks_with_the_new_password(
    spawn_host, host_env
):
    path = Path(host_env["TRACKER2FA_VAULT"])
    vault = VaultFile(path).create(PASSWORD, kdf_cost="minimum")
    jira = vault.add(Entry(secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", issuer="Jira", account="ann", origins=[JIRA]))
    vault.lock()
    host = spawn_host()
    assert host.result("vault.unlock", {"password": PASSWORD})["unlocked"] is True
    assert host.result("vault.code", {"id": jira.id, "origin": JIRA})["code"]

    changed = subprocess.run([_tracker2fa(), "vault", "passwd", "--password-stdin"], input=f"{PASSWORD}\n{NEW}\n",
                             env={**os.environ, **host_env}, capture_output=True, text=True, timeout=60)
    assert changed.returncode == 0, changed.stderr

    assert host.result("vault.status")["unlocked"] is False
    assert host.error_code("vault.code", {"id": jira.id, "origin": JIRA}) == "vault_locked"
    assert host.error_code("vault.unlock", {"password": PASSWORD}) == "wrong_password"
    assert host.result("vault.unlock", {"password": NEW})["unlocked"] is True
    assert host.result("vault.code", {"id": jira.id, "origin": JIRA})["code"]
