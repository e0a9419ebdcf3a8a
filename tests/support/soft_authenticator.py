"""A minimal software security key (CTAP2 + U2F, ES256) under the real python-fido2 HID stack.

``SoftAuthenticator`` holds the keys and answers CTAP2 CBOR commands (getInfo, makeCredential,
getAssertion) and U2F APDUs (VERSION, REGISTER, AUTHENTICATE). ``SoftHidConnection`` is an in-memory
``CtapHidConnection``: it reassembles CTAPHID packets, dispatches complete messages (INIT, PING, MSG, CBOR,
WINK, CANCEL) to the authenticator and queues the reply packets. ``open_device`` hands it to
``fido2.hid.CtapHidDevice``, so ``Fido2Client`` / ``Ctap1`` / ``Ctap2`` drive it exactly like a USB key.

``u2f_appid_assertion`` plays the browser's part for the WebAuthn ``appid`` extension, which
python-fido2 2.x no longer implements (reference/fido.md, pitfall 3): it signs with the U2F application
parameter SHA-256(appid) and reports ``clientExtensionResults.appid = true``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import struct
from collections import deque
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fido2 import cbor
from fido2.cose import ES256
from fido2.hid import CAPABILITY, CTAPHID, TYPE_INIT, CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor
from fido2.utils import websafe_encode

PACKET = 64
AAGUID = bytes.fromhex("7472616b326661736f66746b65790001")  # "trak2fasoftkey" + version
BROADCAST = 0xFFFFFFFF

# CTAP2 status codes used here
OK, INVALID_COMMAND, CBOR_UNEXPECTED_TYPE, INVALID_CBOR, MISSING_PARAMETER = 0x00, 0x01, 0x11, 0x12, 0x14
CREDENTIAL_EXCLUDED, UNSUPPORTED_ALGORITHM, NO_CREDENTIALS = 0x19, 0x26, 0x2E
# U2F status words
SW_OK, SW_CONDITIONS, SW_WRONG_DATA, SW_INS = 0x9000, 0x6985, 0x6A80, 0x6D00


@dataclass
class SoftCredential:
    """One key pair, scoped to an rp id hash (CTAP2) or an application parameter (U2F)."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id_hash: bytes


class SoftAuthenticator:
    """Key store and command processor. ``counter`` is global, as on many real keys; set it to simulate a clone."""

    def __init__(self, *, ctap2: bool = True, u2f: bool = True) -> None:
        self.ctap2, self.u2f = ctap2, u2f
        self.credentials: dict[bytes, SoftCredential] = {}
        self.counter = 0
        # A private CA and a "packed" attestation leaf that meets WebAuthn §8.2.1 (v3, subject C/O/OU/CN,
        # basic constraints CA=false); a verifier trusts it by configuring attestation_root.
        now = dt.datetime.now(dt.UTC)
        root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tracker2fa soft authenticator CA")])
        self.attestation_root = (
            x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(root_key, hashes.SHA256())
        )
        self._attestation_key = ec.generate_private_key(ec.SECP256R1())
        leaf_name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tracker2fa"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
            x509.NameAttribute(NameOID.COMMON_NAME, "tracker2fa soft authenticator"),
        ])
        self.attestation_cert = (
            x509.CertificateBuilder().subject_name(leaf_name).issuer_name(root_name)
            .public_key(self._attestation_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(root_key, hashes.SHA256())
        )

    # ---- helpers --------------------------------------------------------------------------------------------
    def _new_credential(self, rp_id_hash: bytes) -> SoftCredential:
        cred = SoftCredential(os.urandom(32), ec.generate_private_key(ec.SECP256R1()), rp_id_hash)
        self.credentials[cred.credential_id] = cred
        return cred

    def _next_counter(self) -> int:
        self.counter += 1
        return self.counter

    @staticmethod
    def _raw_public_key(cred: SoftCredential) -> bytes:
        return cred.private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                          serialization.PublicFormat.UncompressedPoint)

    @staticmethod
    def _sign(cred_or_key, data: bytes) -> bytes:
        key = cred_or_key.private_key if isinstance(cred_or_key, SoftCredential) else cred_or_key
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    # ---- CTAP2 ----------------------------------------------------------------------------------------------
    def handle_cbor(self, request: bytes) -> bytes:
        """One CTAP2 command (command byte + CBOR map) → status byte + CBOR map."""
        if not request:
            return bytes([INVALID_COMMAND])
        command, body = request[0], request[1:]
        try:
            params = cbor.decode(body) if body else {}
        except Exception:
            return bytes([INVALID_CBOR])
        handler = {0x04: self._get_info, 0x01: self._make_credential, 0x02: self._get_assertion}.get(command)
        if handler is None:
            return bytes([INVALID_COMMAND])
        try:
            status, reply = handler(params if isinstance(params, dict) else {})
        except (KeyError, TypeError, AttributeError, ValueError):
            return bytes([CBOR_UNEXPECTED_TYPE])  # a parameter of the wrong shape
        return bytes([status]) + (cbor.encode(reply) if reply is not None else b"")

    def _get_info(self, params: dict) -> tuple[int, dict]:
        versions = ["FIDO_2_0"] + (["U2F_V2"] if self.u2f else [])
        return OK, {1: versions, 2: [], 3: AAGUID, 4: {"rk": False, "up": True, "plat": False}, 5: 1200,
                    9: ["usb"], 10: [{"type": "public-key", "alg": -7}]}

    def _make_credential(self, params: dict) -> tuple[int, dict | None]:
        if not all(k in params for k in (1, 2, 3, 4)):
            return MISSING_PARAMETER, None
        rp_id_hash = hashlib.sha256(params[2]["id"].encode()).digest()
        if not any(p.get("alg") == -7 for p in params[4]):
            return UNSUPPORTED_ALGORITHM, None
        for descriptor in params.get(5) or []:
            known = self.credentials.get(descriptor["id"])
            if known and known.rp_id_hash == rp_id_hash:
                return CREDENTIAL_EXCLUDED, None
        cred = self._new_credential(rp_id_hash)
        cose = cbor.encode(dict(ES256.from_cryptography_key(cred.private_key.public_key())))
        attested = AAGUID + struct.pack(">H", len(cred.credential_id)) + cred.credential_id + cose
        auth_data = rp_id_hash + bytes([0x41]) + struct.pack(">I", self._next_counter()) + attested  # UP | AT
        signature = self._sign(self._attestation_key, auth_data + params[1])
        att_stmt = {"alg": -7, "sig": signature,
                    "x5c": [self.attestation_cert.public_bytes(serialization.Encoding.DER)]}
        return OK, {1: "packed", 2: auth_data, 3: att_stmt}

    def _get_assertion(self, params: dict) -> tuple[int, dict | None]:
        if 1 not in params or 2 not in params:
            return MISSING_PARAMETER, None
        rp_id_hash = hashlib.sha256(params[1].encode()).digest()
        matches = [self.credentials[d["id"]] for d in params.get(3) or []
                   if d["id"] in self.credentials and self.credentials[d["id"]].rp_id_hash == rp_id_hash]
        if not matches:
            return NO_CREDENTIALS, None
        cred = matches[0]
        user_present = (params.get(5) or {}).get("up", True)
        flags = 0x01 if user_present else 0x00
        auth_data = rp_id_hash + bytes([flags]) + struct.pack(">I", self._next_counter())
        return OK, {1: {"type": "public-key", "id": cred.credential_id}, 2: auth_data,
                    3: self._sign(cred, auth_data + params[2])}

    # ---- U2F (CTAP1) ----------------------------------------------------------------------------------------
    def handle_apdu(self, apdu: bytes) -> bytes:
        """One U2F APDU (extended or short length) → response data + status word."""
        if len(apdu) < 4:
            return struct.pack(">H", SW_WRONG_DATA)
        ins, p1 = apdu[1], apdu[2]
        if len(apdu) >= 7 and apdu[4] == 0:
            length = struct.unpack(">H", apdu[5:7])[0]
            data = apdu[7 : 7 + length]
        elif len(apdu) > 5:
            data = apdu[5 : 5 + apdu[4]]
        else:
            data = b""
        if ins == 0x03:
            return b"U2F_V2" + struct.pack(">H", SW_OK)
        if ins == 0x01 and len(data) == 64:
            return self._u2f_register(data[:32], data[32:])
        if ins == 0x02 and len(data) >= 65:
            return self._u2f_authenticate(p1, data[:32], data[32:64], data[65 : 65 + data[64]])
        return struct.pack(">H", SW_INS if ins not in (0x01, 0x02) else SW_WRONG_DATA)

    def _u2f_register(self, client_param: bytes, app_param: bytes) -> bytes:
        cred = self._new_credential(app_param)
        public_key = self._raw_public_key(cred)
        cert = self.attestation_cert.public_bytes(serialization.Encoding.DER)
        signed = b"\x00" + app_param + client_param + cred.credential_id + public_key
        signature = self._sign(self._attestation_key, signed)
        body = b"\x05" + public_key + bytes([len(cred.credential_id)]) + cred.credential_id + cert + signature
        return body + struct.pack(">H", SW_OK)

    def _u2f_authenticate(self, p1: int, client_param: bytes, app_param: bytes, key_handle: bytes) -> bytes:
        cred = self.credentials.get(key_handle)
        if cred is None or cred.rp_id_hash != app_param:
            return struct.pack(">H", SW_WRONG_DATA)
        if p1 == 0x07:  # check-only: "this key handle is mine"
            return struct.pack(">H", SW_CONDITIONS)
        counter = struct.pack(">I", self._next_counter())
        signature = self._sign(cred, app_param + b"\x01" + counter + client_param)
        return b"\x01" + counter + signature + struct.pack(">H", SW_OK)


class SoftHidConnection(CtapHidConnection):
    """CTAPHID framing in memory: write_packet assembles requests, read_packet returns queued replies."""

    def __init__(self, authenticator: SoftAuthenticator) -> None:
        self.authenticator = authenticator
        self._replies: deque[bytes] = deque()
        self._next_channel = 1
        self._partial: tuple[int, int, int, bytearray, int] | None = None  # channel, cmd, length, data, seq

    def write_packet(self, data: bytes) -> None:
        """Take one 64-byte packet from the host."""
        channel = struct.unpack_from(">I", data)[0]
        if data[4] & TYPE_INIT:
            cmd, length = data[4] & 0x7F, struct.unpack_from(">H", data, 5)[0]
            self._partial = (channel, cmd, length, bytearray(data[7:]), 0)
        elif self._partial is not None and self._partial[0] == channel:
            ch, cmd, length, buf, seq = self._partial
            if data[4] != seq:
                self._partial = None
                self._send(channel, CTAPHID.ERROR, b"\x04")  # ERR_INVALID_SEQ
                return
            buf.extend(data[5:])
            self._partial = (ch, cmd, length, buf, seq + 1)
        else:
            return
        ch, cmd, length, buf, _seq = self._partial
        if len(buf) >= length:
            self._partial = None
            self._dispatch(ch, cmd, bytes(buf[:length]))

    def read_packet(self) -> bytes:
        """The next reply packet (the stack only reads after writing a request, so one is always queued)."""
        if not self._replies:
            raise OSError("soft authenticator: no reply pending")
        return self._replies.popleft()

    def close(self) -> None:
        """Nothing to release."""

    def _dispatch(self, channel: int, cmd: int, payload: bytes) -> None:
        if cmd == CTAPHID.INIT:
            new_channel = self._next_channel
            self._next_channel += 1
            caps = CAPABILITY.WINK | (CAPABILITY.CBOR if self.authenticator.ctap2 else 0) | \
                (0 if self.authenticator.u2f else CAPABILITY.NMSG)
            self._send(channel, cmd, payload[:8] + struct.pack(">IBBBBB", new_channel, 2, 1, 0, 0, caps))
        elif cmd == CTAPHID.PING:
            self._send(channel, cmd, payload)
        elif cmd == CTAPHID.WINK:
            self._send(channel, cmd, b"")
        elif cmd == CTAPHID.CBOR and self.authenticator.ctap2:
            self._send(channel, cmd, self.authenticator.handle_cbor(payload))
        elif cmd == CTAPHID.MSG and self.authenticator.u2f:
            self._send(channel, cmd, self.authenticator.handle_apdu(payload))
        elif cmd == CTAPHID.CANCEL:
            pass  # nothing is ever pending: every command answers at once
        else:
            self._send(channel, CTAPHID.ERROR, b"\x01")  # ERR_INVALID_CMD

    def _send(self, channel: int, cmd: int, payload: bytes) -> None:
        header = struct.pack(">IBH", channel, TYPE_INIT | cmd, len(payload))
        first, rest = payload[: PACKET - 7], payload[PACKET - 7 :]
        self._replies.append((header + first).ljust(PACKET, b"\0"))
        seq = 0
        while rest:
            chunk, rest = rest[: PACKET - 5], rest[PACKET - 5 :]
            self._replies.append((struct.pack(">IB", channel, seq) + chunk).ljust(PACKET, b"\0"))
            seq += 1


def open_device(authenticator: SoftAuthenticator | None = None) -> tuple[CtapHidDevice, SoftAuthenticator]:
    """A ``CtapHidDevice`` backed by ``authenticator`` (a new CTAP2+U2F one by default)."""
    authenticator = authenticator or SoftAuthenticator()
    descriptor = HidDescriptor("soft:0", 0x1209, 0x7472, PACKET, PACKET, "tracker2fa soft key", "0001")
    return CtapHidDevice(descriptor, SoftHidConnection(authenticator)), authenticator


def u2f_register(device: CtapHidDevice, appid: str) -> tuple[bytes, bytes]:
    """A legacy U2F registration under ``appid``, as the old ``u2f.register`` did: (key handle, public key)."""
    from fido2.ctap1 import Ctap1

    registration = Ctap1(device).register(os.urandom(32), hashlib.sha256(appid.encode()).digest())
    return registration.key_handle, registration.public_key


def u2f_appid_assertion(device: CtapHidDevice, request_options: dict, origin: str) -> dict:
    """What a browser does for ``navigator.credentials.get`` with the ``appid`` extension, over U2F.

    Returns the AuthenticationResponse in WebAuthn JSON, with authenticatorData whose rpIdHash is
    SHA-256(appid) and ``clientExtensionResults: {"appid": true}``.
    """
    from fido2.ctap1 import Ctap1

    public_key = request_options["publicKey"]
    appid = public_key["extensions"]["appid"]
    client_data = json.dumps({"type": "webauthn.get", "challenge": public_key["challenge"], "origin": origin,
                              "crossOrigin": False}, separators=(",", ":")).encode()
    app_param = hashlib.sha256(appid.encode()).digest()
    ctap1 = Ctap1(device)
    for descriptor in public_key.get("allowCredentials") or []:
        from fido2.utils import websafe_decode

        key_handle = websafe_decode(descriptor["id"])
        try:
            signed = ctap1.authenticate(hashlib.sha256(client_data).digest(), app_param, key_handle)
        except Exception:
            continue  # not this key's handle: try the next one, as a browser does
        auth_data = app_param + bytes([signed.user_presence]) + struct.pack(">I", signed.counter)
        return {"id": websafe_encode(key_handle), "rawId": websafe_encode(key_handle), "type": "public-key",
                "response": {"clientDataJSON": websafe_encode(client_data),
                             "authenticatorData": websafe_encode(auth_data),
                             "signature": websafe_encode(signed.signature)},
                "clientExtensionResults": {"appid": True}}
    raise LookupError("no allowed credential belongs to this authenticator under the appid")
