"""Keys and state of a software authenticator, and their persistence for the virtual key.

The file is JSON, mode 0600, written atomically; it holds private keys in the clear, which is why the
virtual key is a developer tool for testing and never a security key (docs/security-keys.md).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FILE_FORMAT = "tracker2fa-virtual-key"
FILE_VERSION = 1
PIN_RETRIES_MAX = 8
# "tracker2fa-vkey" + version 1: identifies the virtual key to relying parties that look.
VIRTUAL_AAGUID = bytes.fromhex("747261636b657232666176697274016b")
VIRTUAL_KEY_LABEL = "tracker2fa virtual key (for testing, not a security key)"


class StoreError(ValueError):
    """The virtual key file is unreadable or not a virtual key file; it is left untouched."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@dataclass
class Credential:
    """One key pair. ``rp_id_hash`` is SHA-256(rpId) for CTAP2, the application parameter for U2F."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id_hash: bytes
    rp_id: str | None = None  # unknown for U2F registrations (only the hash is sent)
    user: dict[str, Any] | None = None  # {"id": bytes, "name", "displayName"} for resident keys
    resident: bool = False
    cred_protect: int = 1
    cred_random_uv: bytes = field(default_factory=lambda: os.urandom(32))  # hmac-secret, with UV
    cred_random: bytes = field(default_factory=lambda: os.urandom(32))  # hmac-secret, without UV
    created: int = 0  # creation order: newest resident credential first in getAssertion

    def public_point(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    def to_json(self) -> dict[str, Any]:
        pem = self.private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
        user = None
        if self.user is not None:
            user = {k: (_b64(v) if k == "id" else v) for k, v in self.user.items()}
        return {"id": _b64(self.credential_id), "key": _b64(pem), "rpIdHash": _b64(self.rp_id_hash),
                "rpId": self.rp_id, "user": user, "resident": self.resident, "credProtect": self.cred_protect,
                "credRandomUv": _b64(self.cred_random_uv), "credRandom": _b64(self.cred_random),
                "created": self.created}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Credential:
        key = serialization.load_der_private_key(_unb64(data["key"]), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise StoreError("a credential key is not an EC key")
        user = data.get("user")
        if user is not None:
            user = {k: (_unb64(v) if k == "id" else v) for k, v in user.items()}
        return cls(_unb64(data["id"]), key, _unb64(data["rpIdHash"]), data.get("rpId"), user,
                   bool(data["resident"]), int(data["credProtect"]), _unb64(data["credRandomUv"]),
                   _unb64(data["credRandom"]), int(data.get("created", 0)))


def _issue_attestation(key: ec.EllipticCurvePrivateKey, label: str) -> tuple[bytes, bytes]:
    """A packed/U2F attestation certificate for ``key`` (WebAuthn §8.2.1: v3, subject C/O/OU/CN, not a CA),
    issued by a private root made here; returns (leaf DER, root DER). A verifier that should trust this
    key configures the root; the root's private key is discarded."""
    now = dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{label[:50]} CA")])
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(root_key, hashes.SHA256()))
    leaf_name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tracker2fa"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
        x509.NameAttribute(NameOID.COMMON_NAME, label[:64]),
    ])
    leaf = (x509.CertificateBuilder().subject_name(leaf_name).issuer_name(root_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(root_key, hashes.SHA256()))
    return leaf.public_bytes(serialization.Encoding.DER), root.public_bytes(serialization.Encoding.DER)


@dataclass
class KeyStore:
    """Everything a software key remembers across power cycles."""

    label: str = VIRTUAL_KEY_LABEL
    aaguid: bytes = VIRTUAL_AAGUID
    counter: int = 0
    pin_hash: bytes | None = None  # LEFT(SHA-256(pin), 16), as CTAP2 stores it
    pin_retries: int = PIN_RETRIES_MAX
    credentials: dict[bytes, Credential] = field(default_factory=dict)
    attestation_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    attestation_cert: bytes = b""  # DER, signed by attestation_root
    attestation_root: bytes = b""  # DER of the private CA a verifier may be told to trust
    # Held by the authenticator(s) over this store for every step of a command (softkey/authenticator.py):
    # the host runs requests on several threads, and one store may serve several framings at once.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.attestation_cert:
            self.attestation_cert, self.attestation_root = _issue_attestation(self.attestation_key, self.label)

    def next_counter(self) -> int:
        self.counter += 1
        return self.counter

    def add(self, credential: Credential) -> None:
        credential.created = max((c.created for c in self.credentials.values()), default=0) + 1
        self.credentials[credential.credential_id] = credential

    def reset(self) -> None:
        """authenticatorReset: forget every credential and the PIN (the attestation key stays)."""
        self.credentials.clear()
        self.pin_hash = None
        self.pin_retries = PIN_RETRIES_MAX

    # ---- persistence -------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        att = self.attestation_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption())
        return {"format": FILE_FORMAT, "version": FILE_VERSION, "label": self.label,
                "warning": "A virtual security key for testing: its private keys are stored unencrypted here.",
                "aaguid": self.aaguid.hex(), "counter": self.counter,
                "pinHash": _b64(self.pin_hash) if self.pin_hash else None, "pinRetries": self.pin_retries,
                "attestationKey": _b64(att), "attestationCert": _b64(self.attestation_cert),
                "attestationRoot": _b64(self.attestation_root),
                "credentials": [c.to_json() for c in self.credentials.values()]}

    @classmethod
    def from_json(cls, data: Any) -> KeyStore:
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise StoreError("not a tracker2fa virtual key file")
        if data.get("version") != FILE_VERSION:
            raise StoreError(f"virtual key file version {data.get('version')!r} is not supported")
        try:
            att = serialization.load_der_private_key(_unb64(data["attestationKey"]), None)
            if not isinstance(att, ec.EllipticCurvePrivateKey):
                raise StoreError("the attestation key is not an EC key")
            creds = [Credential.from_json(c) for c in data["credentials"]]
            return cls(label=str(data["label"]), aaguid=bytes.fromhex(data["aaguid"]), counter=int(data["counter"]),
                       pin_hash=_unb64(data["pinHash"]) if data.get("pinHash") else None,
                       pin_retries=int(data["pinRetries"]), credentials={c.credential_id: c for c in creds},
                       attestation_key=att, attestation_cert=_unb64(data["attestationCert"]),
                       attestation_root=_unb64(data["attestationRoot"]))
        except StoreError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"virtual key file is damaged: {type(exc).__name__}: {exc}") from None

    @classmethod
    def load(cls, path: Path) -> KeyStore:
        """Read the store at ``path``. Raises :class:`StoreError` (and never rewrites) if it is damaged."""
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot read the virtual key file {path}: {exc.strerror}") from None
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise StoreError(f"{path} is not JSON: not a tracker2fa virtual key file") from None
        return cls.from_json(data)

    def to_bytes(self, *, counter: int | None = None) -> bytes:
        """The file's content (what ``save`` writes); ``counter`` replaces the counter written (a reservation
        above the one in use, see virtual_key.py)."""
        data = self.to_json()
        if counter is not None:
            data["counter"] = counter
        return json.dumps(data, indent=1).encode()

    def save(self, path: Path, data: bytes | None = None) -> None:
        """Write atomically with mode 0600 (the temp file is 0600 from the start); ``data`` is
        ``to_bytes()`` when the caller has it already."""
        from native_host.atomic import write_file_atomically

        write_file_atomically(path, self.to_bytes() if data is None else data, 0o600)
