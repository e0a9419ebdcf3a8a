"""CTAP1 / U2F raw messages: VERSION, REGISTER, AUTHENTICATE (ISO 7816-4 APDUs, short or extended).

U2F never waits for a touch: without one it answers CONDITIONS NOT SATISFIED (6985) and the platform
polls, so presence is asked once per APDU and never blocks.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from .presence import PresenceRequest
from .store import Credential, KeyStore

SW_OK, SW_CONDITIONS_NOT_SATISFIED, SW_WRONG_DATA = 0x9000, 0x6985, 0x6A80
SW_WRONG_LENGTH, SW_INS_NOT_SUPPORTED, SW_CLA_NOT_SUPPORTED = 0x6700, 0x6D00, 0x6E00
INS_REGISTER, INS_AUTHENTICATE, INS_VERSION = 0x01, 0x02, 0x03
P1_ENFORCE, P1_CHECK_ONLY, P1_DONT_ENFORCE = 0x03, 0x07, 0x08


def _sw(status: int) -> bytes:
    return struct.pack(">H", status)


class ApduFormatError(ValueError):
    """The APDU's length fields do not match its size."""


def parse_apdu(apdu: bytes) -> tuple[int, int, int, int, bytes]:
    """(cla, ins, p1, p2, data) of a short or extended command APDU. Raises :class:`ApduFormatError`."""
    if len(apdu) < 4:
        raise ApduFormatError("an APDU has at least 4 header bytes")
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if len(body) <= 1:  # case 1, or case 2 short (Le only)
        return cla, ins, p1, p2, b""
    if body[0] == 0 and len(body) >= 3:  # extended: 00 Lc(2) data [Le(2)] or 00 Le(2)
        length = struct.unpack(">H", body[1:3])[0]
        if len(body) == 3:
            return cla, ins, p1, p2, b""
        data = body[3 : 3 + length]
        if len(data) != length or len(body) not in (3 + length, 5 + length):
            raise ApduFormatError("extended APDU length does not match its data")
        return cla, ins, p1, p2, data
    length = body[0]
    data = body[1 : 1 + length]
    if len(data) != length or len(body) not in (1 + length, 2 + length):
        raise ApduFormatError("short APDU length does not match its data")
    return cla, ins, p1, p2, data


class U2fCore:
    """U2F over the same key store as CTAP2 (a U2F key handle is a credential id)."""

    def __init__(self, store: KeyStore, presence: Callable[[PresenceRequest], bool | None]) -> None:
        self.store = store
        self.presence = presence

    def handle(self, apdu: bytes) -> bytes:
        """One command APDU → response data + status word."""
        try:
            cla, ins, p1, _p2, data = parse_apdu(apdu)
        except ApduFormatError:
            return _sw(SW_WRONG_LENGTH)
        if cla != 0x00:
            return _sw(SW_CLA_NOT_SUPPORTED)
        if ins == INS_VERSION:
            return b"U2F_V2" + _sw(SW_OK) if not data else _sw(SW_WRONG_LENGTH)
        if ins == INS_REGISTER:
            return self._register(data[:32], data[32:]) if len(data) == 64 else _sw(SW_WRONG_LENGTH)
        if ins == INS_AUTHENTICATE:
            if len(data) < 65 or len(data) != 65 + data[64]:
                return _sw(SW_WRONG_LENGTH)
            return self._authenticate(p1, data[:32], data[32:64], data[65:])
        return _sw(SW_INS_NOT_SUPPORTED)

    def _touched(self, purpose: str) -> bool:
        return self.presence(PresenceRequest(purpose)) is True

    def _register(self, client_param: bytes, app_param: bytes) -> bytes:
        if not self._touched("u2fRegister"):
            return _sw(SW_CONDITIONS_NOT_SATISFIED)
        cred = Credential(os.urandom(64), ec.generate_private_key(ec.SECP256R1()), app_param)
        self.store.add(cred)
        public_key = cred.public_point()
        signed = b"\x00" + app_param + client_param + cred.credential_id + public_key
        signature = self.store.attestation_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        body = (b"\x05" + public_key + bytes([len(cred.credential_id)]) + cred.credential_id
                + self.store.attestation_cert + signature)
        return body + _sw(SW_OK)

    def _authenticate(self, p1: int, client_param: bytes, app_param: bytes, key_handle: bytes) -> bytes:
        cred = self.store.credentials.get(key_handle)
        if cred is None or cred.rp_id_hash != app_param:
            return _sw(SW_WRONG_DATA)  # not this key's handle (or another application's)
        if p1 == P1_CHECK_ONLY:
            return _sw(SW_CONDITIONS_NOT_SATISFIED)  # "the handle is mine", by definition of check-only
        if p1 not in (P1_ENFORCE, P1_DONT_ENFORCE):
            return _sw(SW_WRONG_DATA)
        present = self._touched("u2fAuthenticate")
        if p1 == P1_ENFORCE and not present:
            return _sw(SW_CONDITIONS_NOT_SATISFIED)
        counter = struct.pack(">I", self.store.next_counter())
        flags = b"\x01" if present else b"\x00"
        signature = cred.private_key.sign(app_param + flags + counter + client_param, ec.ECDSA(hashes.SHA256()))
        return flags + counter + signature + _sw(SW_OK)
