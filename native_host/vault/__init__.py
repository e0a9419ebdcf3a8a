"""The encrypted TOTP vault.

``import native_host.vault`` stays cheap: no ``cryptography`` until a vault is created or unlocked.

    from native_host.vault import VaultFile, UnlockedVault, default_vault_path
    vault = VaultFile(default_vault_path()).unlock(password)
    code, seconds_left = vault.code(entry.id, origin)

The file layout is documented in docs/vault-format.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .unlocked import UnlockedVault, VaultFile

__all__ = ["UnlockedVault", "VaultFile", "default_vault_path"]

VAULT_ENV = "TRACKER2FA_VAULT"


def default_vault_path() -> Path:
    """``$TRACKER2FA_VAULT``, else ``vault.json`` in platformdirs' per-user data directory."""
    override = os.environ.get(VAULT_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_data_path("tracker2fa", appauthor=False) / "vault.json"


def __getattr__(name: str) -> Any:
    if name in ("VaultFile", "UnlockedVault"):
        from . import unlocked

        return getattr(unlocked, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
