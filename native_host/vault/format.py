"""The vault file's layout: a versioned JSON document (see docs/vault-format.md).

This module only checks and (de)serialises the outer layout; it imports no cryptography, so reading a
header or rejecting a damaged file costs nothing. ``crypto.py`` does the sealing.

    {"format": "tracker2fa-vault", "version": 1,
     "header": {"cipher": "aes-256-gcm", "nonce": B64, "slots": [SLOT, ...]},
     "header_sha256": HEX,            # digest of the canonical header: tells "tampered" from "wrong password"
     "db": B64}                       # AES-256-GCM(master key, nonce, plaintext, aad=canonical header) ‖ tag

Every error here is a :class:`VaultCorrupt`, :class:`VaultTampered` or :class:`UnsupportedVersion`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from ..errors import UnsupportedVersion, VaultCorrupt, VaultTampered

FORMAT_NAME = "tracker2fa-vault"
VERSION = 1
CIPHER = "aes-256-gcm"
MAX_FILE_BYTES = 256 * 1024 * 1024  # ~800,000 entries; anything bigger is not a vault we wrote

# Slot types. "fido2-prf" is a security-key slot (FIDO2 hmac-secret, see key_slot.py): a reader that does
# not know a slot type skips it, so adding one later needs no version bump.
SLOT_PASSWORD = "password"
SLOT_FIDO2_PRF = "fido2-prf"
# A fido2-prf slot's bounds (docs/vault-format.md). CTAP2 caps a credential id at 1023 bytes; the salt is
# hmac-secret's 32-byte salt1; an rpId is a DNS name (253 characters at most).
PRF_KDF = "hkdf-sha256"
CREDENTIAL_ID_BYTES = (16, 1023)
PRF_SALT_BYTES = 32
MAX_RP_ID_LENGTH = 253
MAX_SLOT_NAME_LENGTH = 64

# Bounds a file's KDF parameters must fall in, a little above the strongest preset we write (crypto.KDF_COSTS:
# scrypt 2^17·8·1 = 128 MiB, Argon2id 64 MiB × 3 × 1): a forged header must not make us allocate gigabytes
# or spin for minutes. Documented in docs/vault-format.md.
SCRYPT_LIMITS = {"log2_n": (10, 18), "r": (1, 16), "p": (1, 2)}
SCRYPT_MAX_MEMORY = 256 * 1024 * 1024  # 128·r·N bytes, scrypt's own working set
ARGON2_LIMITS = {"memory_kib": (8, 256 * 1024), "iterations": (1, 8), "lanes": (1, 4)}
SALT_BYTES = (16, 64)
# Unlocking may try every password slot (one KDF run each) and asks a security key once per fido2-prf slot:
# a file with hundreds of slots is not ours. `vault key add` refuses a ninth slot (key_slot.py).
MAX_SLOTS = 8


def canonical_json(value: Any) -> bytes:
    """The one byte form of ``value`` used for digests and AAD: sorted keys, no spaces, ASCII."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def b64e(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def b64d(value: Any, what: str, *, size: int | tuple[int, int] | None = None) -> bytes:
    """Decode strict Base64 text, checking its decoded size; VaultCorrupt naming ``what`` otherwise."""
    if not isinstance(value, str):
        raise VaultCorrupt(f"the vault's {what} is not Base64 text")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise VaultCorrupt(f"the vault's {what} is not valid Base64") from None
    if isinstance(size, int) and len(raw) != size:
        raise VaultCorrupt(f"the vault's {what} has {len(raw)} bytes, expected {size}")
    if isinstance(size, tuple) and not size[0] <= len(raw) <= size[1]:
        raise VaultCorrupt(f"the vault's {what} has {len(raw)} bytes, expected {size[0]}–{size[1]}")
    return raw


def header_aad(header: dict[str, Any]) -> bytes:
    """Additional authenticated data of the database: the format, the version and the whole header."""
    return canonical_json({"format": FORMAT_NAME, "version": VERSION, "header": header})


def header_digest(header: dict[str, Any]) -> str:
    return hashlib.sha256(header_aad(header)).hexdigest()


@dataclass
class SealedVault:
    """A parsed vault file whose layout is valid; ``db`` is still encrypted."""

    header: dict[str, Any]
    nonce: bytes
    db: bytes  # ciphertext followed by the 16-byte GCM tag

    def password_slots(self) -> list[dict[str, Any]]:
        return [s for s in self.header["slots"] if s["type"] == SLOT_PASSWORD]

    def key_slots(self) -> list[dict[str, Any]]:
        """The security-key (fido2-prf) slots."""
        return [s for s in self.header["slots"] if s["type"] == SLOT_FIDO2_PRF]


def _int_in(value: Any, bounds: tuple[int, int], what: str) -> int:
    if type(value) is not int or not bounds[0] <= value <= bounds[1]:
        raise VaultCorrupt(f"the vault's {what} must be a whole number in {bounds[0]}–{bounds[1]}")
    return value


def scrypt_problem(log2_n: Any, r: Any, p: Any, max_memory: int = SCRYPT_MAX_MEMORY) -> str | None:
    """Why scrypt(N = 2^log2_n, r, p) cannot or must not run, or None.

    scrypt's own rules come first (RFC 7914 §6: N a power of two above 1, N < 2^(16·r), r·p < 2^30), then
    the memory bound: OpenSSL refuses what breaks them with a MemoryError, which must never reach a user.
    """
    if any(type(v) is not int for v in (log2_n, r, p)):
        return "N, r and p must be whole numbers"
    if not 1 <= log2_n <= 63:
        return "N must be a power of two greater than 1"
    if r < 1 or p < 1 or r * p >= 1 << 30:
        return "r and p must be at least 1 with r·p below 2^30"
    if log2_n >= 16 * r:
        return f"N = 2^{log2_n} needs r of at least {log2_n // 16 + 1}"
    if 128 * r * (1 << log2_n) > max_memory:
        return f"they need {128 * r * (1 << log2_n) // 2**20} MiB of memory, more than {max_memory // 2**20} MiB"
    return None


def check_kdf(kdf: Any) -> dict[str, Any]:
    """Validate a slot's KDF parameters (name, cost, salt) against the documented bounds."""
    if not isinstance(kdf, dict):
        raise VaultCorrupt("a key slot's kdf is not an object")
    name = kdf.get("name")
    if name == "scrypt":
        problem = scrypt_problem(kdf.get("log2_n"), kdf.get("r"), kdf.get("p"))
        if problem:
            raise VaultCorrupt(f"the vault's scrypt parameters are invalid: {problem}")
        for key, bounds in SCRYPT_LIMITS.items():
            _int_in(kdf.get(key), bounds, f"scrypt {key}")
    elif name == "argon2id":
        for key, bounds in ARGON2_LIMITS.items():
            _int_in(kdf.get(key), bounds, f"argon2id {key}")
        if kdf["memory_kib"] < 8 * kdf["lanes"]:
            raise VaultCorrupt("the vault's argon2id memory is below 8 KiB per lane")
    else:
        raise VaultCorrupt(f"unknown key-derivation function {name!r} in a key slot")
    b64d(kdf.get("salt"), "KDF salt", size=SALT_BYTES)
    return kdf


def _check_slot(slot: Any) -> dict[str, Any]:
    if not isinstance(slot, dict) or not isinstance(slot.get("type"), str):
        raise VaultCorrupt("a key slot is not an object with a type")
    if slot["type"] == SLOT_PASSWORD:
        check_kdf(slot.get("kdf"))
        b64d(slot.get("nonce"), "slot nonce", size=12)
        b64d(slot.get("key"), "wrapped key", size=48)  # 32-byte master key + 16-byte tag
    elif slot["type"] == SLOT_FIDO2_PRF:
        check_key_slot(slot)
    return slot


def _short_text(value: Any, limit: int, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= limit or not value.isprintable():
        raise VaultCorrupt(f"a security-key slot's {what} must be printable text of 1–{limit} characters")
    return value


def check_key_slot(slot: dict[str, Any]) -> dict[str, Any]:
    """Validate a fido2-prf slot's fields against the documented bounds (VaultCorrupt otherwise)."""
    slot_id = slot.get("id")
    if not isinstance(slot_id, str) or len(slot_id) != 32 or not all(c in "0123456789abcdef" for c in slot_id):
        raise VaultCorrupt("a security-key slot's id must be 32 lowercase hex digits")
    _short_text(slot.get("name"), MAX_SLOT_NAME_LENGTH, "name")
    _short_text(slot.get("rp_id"), MAX_RP_ID_LENGTH, "rpId")
    if slot.get("kdf") != {"name": PRF_KDF}:
        raise VaultCorrupt(f"a security-key slot's kdf must be {{\"name\": \"{PRF_KDF}\"}}")
    b64d(slot.get("credential_id"), "credential id", size=CREDENTIAL_ID_BYTES)
    b64d(slot.get("salt"), "PRF salt", size=PRF_SALT_BYTES)
    b64d(slot.get("nonce"), "slot nonce", size=12)
    b64d(slot.get("key"), "wrapped key", size=48)
    return slot


def parse_vault(data: bytes) -> SealedVault:
    """Check the layout of a vault file's bytes. Raises VaultCorrupt / VaultTampered / UnsupportedVersion."""
    if len(data) > MAX_FILE_BYTES:
        raise VaultCorrupt(f"the vault file is larger than {MAX_FILE_BYTES // 2**20} MiB")
    if not data.strip():
        raise VaultCorrupt("the vault file is empty")
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise VaultCorrupt("the vault file is not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:
        raise VaultCorrupt(f"the vault file is not valid JSON (truncated?): {str(exc)[:80]}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise VaultCorrupt("this file is not a tracker2fa vault")
    version = doc.get("version")
    if type(version) is not int or version < 1:
        raise VaultCorrupt(f"the vault's version {version!r} is not a positive whole number")
    if version > VERSION:
        raise UnsupportedVersion(f"this vault has format version {version}; this tracker2fa reads up to {VERSION}")
    header, digest = doc.get("header"), doc.get("header_sha256")
    if not isinstance(header, dict) or not isinstance(digest, str):
        raise VaultCorrupt("the vault has no header")
    try:
        expected = header_digest(header)
    except (TypeError, ValueError, RecursionError):
        raise VaultCorrupt("the vault header cannot be serialised") from None
    if not hmac.compare_digest(expected, digest.lower() if digest.isascii() else ""):
        raise VaultTampered("the vault header was modified (its checksum does not match); the file was left untouched")
    if header.get("cipher") != CIPHER:
        raise VaultCorrupt(f"unknown cipher {header.get('cipher')!r}")
    nonce = b64d(header.get("nonce"), "nonce", size=12)
    slots = header.get("slots")
    if not isinstance(slots, list) or not slots:
        raise VaultCorrupt("the vault has no key slots")
    if len(slots) > MAX_SLOTS:
        raise VaultCorrupt(f"the vault has {len(slots)} key slots; at most {MAX_SLOTS} are allowed")
    for slot in slots:
        _check_slot(slot)
    db = b64d(doc.get("db"), "database", size=(16, MAX_FILE_BYTES))
    return SealedVault(header=header, nonce=nonce, db=db)


def build_vault(header: dict[str, Any], db: bytes) -> bytes:
    """The file bytes for a sealed database under ``header``.

    The megabytes of Base64 are spliced in as bytes: running them through ``json.dumps`` would only scan
    them for characters Base64 never contains (half the cost of a save at 10,000 entries).
    """
    head = json.dumps(
        {"format": FORMAT_NAME, "version": VERSION, "header": header, "header_sha256": header_digest(header)},
        indent=1,
    )
    return head[:-2].encode("ascii") + b',\n "db": "' + base64.b64encode(db) + b'"\n}\n'
