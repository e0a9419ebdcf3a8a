"""Fixtures for the vault suite: small vaults made with the minimum KDF cost (the format's floor)."""

from __future__ import annotations

from pathlib import Path

import pytest

from native_host.vault import UnlockedVault, VaultFile
from native_host.vault.entry import Entry

PASSWORD = "correct horse battery staple"
JIRA = "https://jira.example.com"
# 160-bit secrets (RFC 4226's recommendation), and one 80-bit secret as many sites still issue.
SECRET_160 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
SECRET_80 = "JBSWY3DPEHPK3PXP"


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    return tmp_path / "vault" / "vault.json"


@pytest.fixture
def vault(vault_path: Path) -> UnlockedVault:
    """An unlocked vault holding one TOTP entry bound to JIRA."""
    unlocked = VaultFile(vault_path).create(PASSWORD, kdf_cost="minimum")
    unlocked.add(Entry(secret=SECRET_160, issuer="Jira", account="ann", origins=[JIRA]))
    return unlocked
