"""Sealing the vault: a random 256-bit master key, AES-256-GCM, and key slots that wrap it.

Imported only when a vault is created or unlocked (``cryptography`` costs ~30 ms to import).
A password slot derives a key-encryption key with scrypt (default) or Argon2id, both from
``cryptography``; the slot's own fields are the AAD of the wrap, so its KDF parameters cannot be swapped.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import VaultCorrupt, VaultError, VaultTampered, WrongPassword
from .format import SLOT_FIDO2_PRF, SLOT_PASSWORD, SealedVault, b64d, b64e, canonical_json, check_kdf, header_aad

# Cost presets. "default" is for real vaults (~0.4 s for scrypt on a 2-core CI machine, 128 MiB);
# "minimum" is the floor the format accepts, meant for tests and benchmarks only.
KDF_COSTS: dict[str, dict[str, dict[str, int]]] = {
    "scrypt": {
        "default": {"log2_n": 17, "r": 8, "p": 1},
        "minimum": {"log2_n": 10, "r": 8, "p": 1},
    },
    "argon2id": {
        "default": {"memory_kib": 64 * 1024, "iterations": 3, "lanes": 1},
        "minimum": {"memory_kib": 8, "iterations": 1, "lanes": 1},
    },
}


def new_master_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def kdf_params(kdf: str, cost: str) -> dict[str, Any]:
    """Fresh parameters (with a new 256-bit salt) for ``kdf`` at preset ``cost``."""
    if kdf not in KDF_COSTS:
        raise VaultError(f"unknown key-derivation function {kdf!r}; use scrypt or argon2id")
    if cost not in KDF_COSTS[kdf]:
        raise VaultError(f"unknown KDF cost {cost!r}; use default or minimum")
    return {"name": kdf, **KDF_COSTS[kdf][cost], "salt": b64e(os.urandom(32))}


def derive_key(password: str, kdf: dict[str, Any]) -> bytes:
    """The 256-bit key-encryption key for ``password`` under validated parameters ``kdf``."""
    check_kdf(kdf)
    secret = password.encode("utf-8")
    salt = b64d(kdf["salt"], "KDF salt")
    if kdf["name"] == "scrypt":
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        return Scrypt(salt=salt, length=32, n=2 ** kdf["log2_n"], r=kdf["r"], p=kdf["p"]).derive(secret)
    from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

    return Argon2id(
        salt=salt, length=32, iterations=kdf["iterations"], lanes=kdf["lanes"], memory_cost=kdf["memory_kib"]
    ).derive(secret)


def _slot_aad(slot: dict[str, Any]) -> bytes:
    return b"tracker2fa-slot\x00" + canonical_json({k: v for k, v in slot.items() if k != "key"})


def password_slot(password: str, master_key: bytes, kdf: dict[str, Any]) -> dict[str, Any]:
    """A password slot wrapping ``master_key`` under a key derived from ``password``."""
    slot: dict[str, Any] = {
        "type": SLOT_PASSWORD, "id": os.urandom(16).hex(), "kdf": kdf, "nonce": b64e(os.urandom(12)),
    }
    kek = derive_key(password, kdf)
    slot["key"] = b64e(AESGCM(kek).encrypt(b64d(slot["nonce"], "slot nonce"), master_key, _slot_aad(slot)))
    return slot


def unwrap_password_slot(slot: dict[str, Any], password: str) -> bytes | None:
    """The master key if ``password`` opens ``slot``, else None."""
    kek = derive_key(password, slot["kdf"])
    try:
        return AESGCM(kek).decrypt(b64d(slot["nonce"], "slot nonce"), b64d(slot["key"], "wrapped key"), _slot_aad(slot))
    except InvalidTag:
        return None


def open_master_key(sealed: SealedVault, password: str) -> bytes:
    """Try every password slot. WrongPassword when none opens; the header digest was checked already."""
    slots = sealed.password_slots()
    if not slots:
        raise VaultError("this vault has no password slot; it can only be opened with its security key")
    for slot in slots:
        key = unwrap_password_slot(slot, password)
        if key is not None:
            return key
    raise WrongPassword("the password does not open this vault")


@dataclass
class RotatedKey:
    """A new master key and the slots that wrap it, after a password change."""

    master_key: bytes
    slots: list[dict[str, Any]]
    dropped: list[str] = field(default_factory=list)  # slots that could not be re-wrapped without their owner


def _describe_slot(slot: dict[str, Any]) -> str:
    if slot.get("type") == SLOT_PASSWORD:
        return "another password slot"
    if slot.get("type") == SLOT_FIDO2_PRF:
        return f"the security-key slot {str(slot.get('name'))[:64]!r} (fido2-prf)"
    return f"a slot of unknown type {str(slot.get('type'))[:40]!r}"


def rotate_master_key(slots: list[dict[str, Any]], master_key: bytes, old: str, new: str) -> RotatedKey:
    """A fresh master key wrapped for ``new``, for a vault whose key ``old`` opens; WrongPassword otherwise.

    The password slot ``old`` opens is replaced by one for ``new`` with the same KDF and cost and a fresh
    salt. Every other slot wrapped the old key with a secret we do not hold (another password, a security
    key's PRF output), so it cannot follow the new key: it is dropped and named in ``dropped``.
    """
    opened = next(
        (s for s in slots if s["type"] == SLOT_PASSWORD
         and hmac.compare_digest(unwrap_password_slot(s, old) or b"", master_key)),
        None,
    )
    if opened is None:
        raise WrongPassword("the current password is wrong; the password was not changed")
    kdf = {**opened["kdf"], "salt": b64e(os.urandom(32))}
    rotated = new_master_key()
    return RotatedKey(
        master_key=rotated,
        slots=[password_slot(new, rotated, kdf)],
        dropped=[_describe_slot(s) for s in slots if s is not opened],
    )


def master_key_replaced(known: dict[str, Any], current: dict[str, Any]) -> bool:
    """True when none of the slots we unlocked through is left in ``current``: the key was rotated."""
    ids = {s.get("id") for s in known.get("slots", [])} - {None}
    return bool(ids) and not ids & {s.get("id") for s in current.get("slots", []) if isinstance(s, dict)}


def new_header(slots: list[dict[str, Any]]) -> dict[str, Any]:
    """A header with a fresh database nonce (one per save: a GCM nonce is never reused with a key)."""
    return {"cipher": "aes-256-gcm", "nonce": b64e(os.urandom(12)), "slots": slots}


def seal(master_key: bytes, header: dict[str, Any], plaintext: bytes) -> bytes:
    """Encrypt the database under ``header`` (its nonce, authenticated as AAD)."""
    return AESGCM(master_key).encrypt(b64d(header["nonce"], "nonce"), plaintext, header_aad(header))


def unseal(master_key: bytes, sealed: SealedVault) -> bytes:
    """Decrypt the database; VaultTampered when the ciphertext or header fails authentication."""
    try:
        return AESGCM(master_key).decrypt(sealed.nonce, sealed.db, header_aad(sealed.header))
    except InvalidTag:
        raise VaultTampered(
            "the vault's contents failed their integrity check (modified or damaged); the file was left untouched"
        ) from None
    except (ValueError, OverflowError) as exc:
        raise VaultCorrupt(f"the vault's database cannot be decrypted: {exc}") from None
