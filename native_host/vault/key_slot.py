"""Security-key slots (``fido2-prf``): the master key wrapped under a secret only a FIDO2 credential gives.

The secret is the credential's hmac-secret output for the slot's 32-byte salt (what WebAuthn calls PRF).
The key-encryption key is HKDF-SHA256(output, salt = the slot's salt, info = :data:`HKDF_INFO`); the master
key is wrapped with AES-256-GCM under it, with the slot's own fields (credential id, rpId, salt, name...)
as the AAD, so none of them can be swapped without the unwrap failing. The header as a whole is covered
by the database's AAD and ``header_sha256`` (format.py).

This module knows nothing of security keys: the caller (``native_host.fido.vault_key``) talks to the key
and hands the output in. It is imported only when such a slot is made or opened.
"""

from __future__ import annotations

import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import BadRequest, VaultError, VaultTampered, WrongPassword
from .format import (
    MAX_SLOT_NAME_LENGTH,
    MAX_SLOTS,
    PRF_KDF,
    PRF_SALT_BYTES,
    SLOT_FIDO2_PRF,
    b64d,
    b64e,
    canonical_json,
    check_key_slot,
)

# The credential's rpId: our own, never a web site's. ".invalid" is reserved (RFC 6761) and never resolves,
# so no page can have this origin, and the host's rpId check refuses it to every page.
VAULT_RP_ID = "tracker2fa-vault.invalid"
HKDF_INFO = b"tracker2fa vault fido2-prf key-encryption key v1"
PRF_OUTPUT_BYTES = 32


class WrongSecurityKey(WrongPassword):
    """The security key touched holds none of the vault's key-slot credentials: the key's "wrong password"
    (a WrongPassword, so the CLI's exit code is the same, 3)."""

    code = "wrong_security_key"


class NoKeySlot(VaultError):
    """The vault has no security-key slot (or none with this id)."""

    code = "no_key_slot"


class TooManySlots(VaultError):
    """The vault already has the most key slots the format allows."""

    code = "too_many_slots"


def new_salt() -> bytes:
    return os.urandom(PRF_SALT_BYTES)


def _kek(prf_output: bytes, salt: bytes) -> bytes:
    if len(prf_output) != PRF_OUTPUT_BYTES:
        raise WrongSecurityKey(f"the security key gave a {len(prf_output)}-byte secret, expected {PRF_OUTPUT_BYTES}")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=HKDF_INFO).derive(prf_output)


def _aad(slot: dict[str, Any]) -> bytes:
    return b"tracker2fa-slot\x00" + canonical_json({k: v for k, v in slot.items() if k != "key"})


def make_key_slot(master_key: bytes, *, credential_id: bytes, rp_id: str, salt: bytes, prf_output: bytes,
                  name: str) -> dict[str, Any]:
    """A fido2-prf slot wrapping ``master_key`` under the key derived from ``prf_output``."""
    slot: dict[str, Any] = {
        "type": SLOT_FIDO2_PRF, "id": os.urandom(16).hex(), "name": name, "credential_id": b64e(credential_id),
        "rp_id": rp_id, "salt": b64e(salt), "kdf": {"name": PRF_KDF}, "nonce": b64e(os.urandom(12)),
    }
    sealed = AESGCM(_kek(prf_output, salt)).encrypt(b64d(slot["nonce"], "slot nonce"), master_key, _aad(slot))
    slot["key"] = b64e(sealed)
    return check_key_slot(slot)


def unwrap_key_slot(slot: dict[str, Any], prf_output: bytes) -> bytes:
    """The master key ``slot`` wraps, given the hmac-secret output of the slot's own credential.

    The key answered for this credential, so its output is the right one: a wrap that fails to open means
    the slot's fields were changed (with the header checksum recomputed): :class:`VaultTampered`."""
    check_key_slot(slot)
    kek = _kek(prf_output, b64d(slot["salt"], "PRF salt"))
    try:
        return AESGCM(kek).decrypt(b64d(slot["nonce"], "slot nonce"), b64d(slot["key"], "wrapped key"), _aad(slot))
    except InvalidTag:
        raise VaultTampered(
            f"the security-key slot {slot['name']!r} failed its integrity check (modified); the file was left "
            "untouched: unlock with the password"
        ) from None


def credential_of(slot: dict[str, Any]) -> bytes:
    return b64d(slot["credential_id"], "credential id")


def salt_of(slot: dict[str, Any]) -> bytes:
    return b64d(slot["salt"], "PRF salt")


def checked_name(name: Any) -> str:
    """``name`` if it can name a slot (printable, 1–64 characters); BadRequest otherwise."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_SLOT_NAME_LENGTH or not name.isprintable():
        raise BadRequest(f"the key slot's name must be printable text of 1–{MAX_SLOT_NAME_LENGTH} characters")
    return name


def check_room(slot_count: int) -> None:
    """TooManySlots when one more slot would break the format's cap (format.MAX_SLOTS)."""
    if slot_count >= MAX_SLOTS:
        raise TooManySlots(f"the vault has {slot_count} key slots, the most allowed; remove one first "
                           "(`tracker2fa vault key remove ID`)")


def public_view(slot: dict[str, Any]) -> dict[str, Any]:
    """What `vault key list` shows of a slot: never the wrapped key or the salt."""
    return {"id": slot["id"], "name": slot["name"], "type": slot["type"], "rp_id": slot["rp_id"],
            "credential_id": slot["credential_id"][:16] + "…"}
