"""CRX3 packages: the signed format Chromium installs self-hosted extensions from.

Layout (Chromium ``components/crx_file``)::

    "Cr24" | uint32le 3 | uint32le header_size | CrxFileHeader (protobuf) | ZIP archive

    message CrxFileHeader { repeated AsymmetricKeyProof sha256_with_rsa = 2;
                            repeated AsymmetricKeyProof sha256_with_ecdsa = 3;
                            bytes signed_header_data = 10000; }   // a serialized SignedData
    message AsymmetricKeyProof { bytes public_key = 1; bytes signature = 2; }
    message SignedData { bytes crx_id = 1; }                       // sha256(public key DER)[:16]

The signature (RSA PKCS#1 v1.5, SHA-256) covers ``b"CRX3 SignedData\\x00" | uint32le len(signed_header_data)
| signed_header_data | archive``. Only length-delimited protobuf fields are needed, so the encoder is a few
lines (no protobuf runtime); the decoder reads what Chromium would and rejects anything malformed.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

MAGIC = b"Cr24"
VERSION = 3
SIGNATURE_CONTEXT = b"CRX3 SignedData\x00"
MAX_HEADER = 1 << 20  # headers are a few hundred bytes; a larger one is not a package of ours


class CrxError(ValueError):
    """The bytes are not a valid CRX3 package (the message says why)."""


# -- protobuf: varints and length-delimited fields


def encode_varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("varints here are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_bytes_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise CrxError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise CrxError("varint longer than 64 bits")


def decode_fields(data: bytes) -> list[tuple[int, bytes | int]]:
    """The (field number, value) pairs of a message with varint and length-delimited fields only."""
    fields: list[tuple[int, bytes | int]] = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise CrxError("field number 0")
        if wire == 0:
            value, pos = _read_varint(data, pos)
            fields.append((number, value))
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            if length > len(data) - pos:
                raise CrxError("a field runs past the end of its message")
            fields.append((number, data[pos : pos + length]))
            pos += length
        else:
            raise CrxError(f"unsupported protobuf wire type {wire}")
    return fields


# -- ids


def crx_id(public_key_der: bytes) -> bytes:
    return hashlib.sha256(public_key_der).digest()[:16]


def extension_id(public_key_der: bytes) -> str:
    """The Chromium extension id of a public key: 32 hex digits of sha256(DER), 0-f written as a-p."""
    return "".join(chr(ord("a") + int(c, 16)) for c in crx_id(public_key_der).hex())


# -- packages


def _signed_payload(signed_header_data: bytes, archive: bytes) -> bytes:
    return SIGNATURE_CONTEXT + struct.pack("<I", len(signed_header_data)) + signed_header_data + archive


def build_crx3(archive: bytes, private_key) -> bytes:  # private_key: cryptography RSAPrivateKey
    """Sign ``archive`` (a ZIP) with ``private_key`` into a CRX3 package."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    public = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signed_header_data = encode_bytes_field(1, crx_id(public))
    signature = private_key.sign(_signed_payload(signed_header_data, archive), padding.PKCS1v15(), hashes.SHA256())
    proof = encode_bytes_field(1, public) + encode_bytes_field(2, signature)
    header = encode_bytes_field(2, proof) + encode_bytes_field(10000, signed_header_data)
    return MAGIC + struct.pack("<II", VERSION, len(header)) + header + archive


@dataclass
class CrxPackage:
    extension_id: str
    public_key: bytes  # DER SubjectPublicKeyInfo of the key the id comes from
    archive: bytes


def read_crx3(data: bytes) -> CrxPackage:
    """Parse and verify a CRX3 package the way Chromium does. Raises :class:`CrxError`."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    if len(data) < 12 or data[:4] != MAGIC:
        raise CrxError("not a CRX file (no Cr24 magic)")
    version, header_size = struct.unpack_from("<II", data, 4)
    if version != VERSION:
        raise CrxError(f"CRX version {version}, not 3")
    if header_size > MAX_HEADER or 12 + header_size > len(data):
        raise CrxError("the header size runs past the end of the file")
    header, archive = data[12 : 12 + header_size], data[12 + header_size :]
    proofs: list[tuple[bytes, bytes]] = []
    signed_header_data = None
    for number, value in decode_fields(header):
        if number == 2 and isinstance(value, bytes):
            parts = dict(decode_fields(value))
            key, sig = parts.get(1), parts.get(2)
            if not isinstance(key, bytes) or not isinstance(sig, bytes):
                raise CrxError("an RSA proof lacks its key or signature")
            proofs.append((key, sig))
        elif number == 10000 and isinstance(value, bytes):
            signed_header_data = value
    if signed_header_data is None:
        raise CrxError("no signed header data")
    declared = dict(decode_fields(signed_header_data)).get(1)
    if not isinstance(declared, bytes) or len(declared) != 16:
        raise CrxError("the signed header data has no 16-byte crx_id")
    payload = _signed_payload(signed_header_data, archive)
    for key_der, signature in proofs:
        try:
            key = load_der_public_key(key_der)
        except (ValueError, UnsupportedAlgorithm):  # a damaged key can name an algorithm that does not exist
            raise CrxError("an RSA proof's public key is not a usable DER key") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise CrxError("an RSA proof holds a non-RSA key")
        try:
            key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise CrxError("a signature does not verify (the package was altered or signed by another key)") from None
        if crx_id(key_der) == declared:
            return CrxPackage(extension_id(key_der), key_der, archive)
    raise CrxError("no proof comes from the key the declared crx_id names")
