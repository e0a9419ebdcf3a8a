"""Authenticator side of CTAP2 clientPIN with PIN/UV auth protocols 1 and 2.

The cryptography (KDF, AES-CBC, HMAC) is python-fido2's own ``PinProtocolV1/V2``, used from the
other end: the same primitives, so client and authenticator cannot drift apart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from fido2.ctap import CtapError
from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2
from fido2.utils import bytes2int, int2bytes

from .store import PIN_RETRIES_MAX, KeyStore

ERR = CtapError.ERR
PROTOCOLS = {1: PinProtocolV1(), 2: PinProtocolV2()}
MIN_PIN_LENGTH = 4
PERM_MC, PERM_GA = 0x01, 0x02
MAX_CONSECUTIVE_MISMATCHES = 3  # then PIN_AUTH_BLOCKED until a power cycle


class PinFailure(Exception):
    """A clientPIN step failed with this CTAP2 status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class PinState:
    """Volatile PIN/UV state: regenerated at each power-up, as on a real key."""

    store: KeyStore
    key_agreement: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    token: bytes = field(default_factory=lambda: os.urandom(32))
    permissions: int = 0
    rp_id: str | None = None
    mismatches: int = 0

    def _regenerate(self) -> None:
        self.key_agreement = ec.generate_private_key(ec.SECP256R1())
        self.token = os.urandom(32)
        self.permissions, self.rp_id = 0, None

    def cose_key_agreement(self) -> dict[int, Any]:
        numbers = self.key_agreement.public_key().public_numbers()
        return {1: 2, 3: -25, -1: 1, -2: int2bytes(numbers.x, 32), -3: int2bytes(numbers.y, 32)}

    def shared_secret(self, protocol: int, peer: Any) -> bytes:
        """ECDH with the platform's key-agreement key, through the protocol's KDF."""
        if not isinstance(peer, dict) or peer.get(1) != 2 or peer.get(-1) != 1:
            raise PinFailure(ERR.INVALID_PARAMETER)
        try:
            point = ec.EllipticCurvePublicNumbers(bytes2int(peer[-2]), bytes2int(peer[-3]), ec.SECP256R1())
            z = self.key_agreement.exchange(ec.ECDH(), point.public_key())
        except (KeyError, TypeError, ValueError):
            raise PinFailure(ERR.INVALID_PARAMETER) from None
        return PROTOCOLS[protocol].kdf(z)

    # ---- clientPIN subcommands ---------------------------------------------------------------------------
    def handle(self, params: dict[int, Any]) -> dict[int, Any] | None:
        protocol = params.get(1)
        sub = params.get(2)
        if sub == 0x01:
            return {3: self.store.pin_retries}
        if protocol not in PROTOCOLS:
            raise PinFailure(ERR.MISSING_PARAMETER if protocol is None else ERR.INVALID_PARAMETER)
        if sub == 0x02:
            return {1: self.cose_key_agreement()}
        if sub == 0x03:
            return self._set_pin(protocol, params)
        if sub == 0x04:
            return self._change_pin(protocol, params)
        if sub in (0x05, 0x09):
            return self._get_token(protocol, params, legacy=sub == 0x05)
        raise PinFailure(ERR.INVALID_SUBCOMMAND)

    def _checked_secret(self, protocol: int, params: dict[int, Any], message: bytes) -> bytes:
        shared = self.shared_secret(protocol, params.get(3))
        if not hmac.compare_digest(PROTOCOLS[protocol].authenticate(shared, message), params.get(4) or b""):
            raise PinFailure(ERR.PIN_AUTH_INVALID)
        return shared

    def _new_pin_hash(self, protocol: int, shared: bytes, new_pin_enc: bytes) -> bytes:
        try:
            padded = PROTOCOLS[protocol].decrypt(shared, new_pin_enc)
        except ValueError:
            raise PinFailure(ERR.INVALID_PARAMETER) from None
        if len(padded) < 64:
            raise PinFailure(ERR.PIN_POLICY_VIOLATION)
        pin = padded.rstrip(b"\0")
        if len(pin.decode("utf-8", "replace")) < MIN_PIN_LENGTH or len(pin) > 63:
            raise PinFailure(ERR.PIN_POLICY_VIOLATION)
        return hashlib.sha256(pin).digest()[:16]

    def _set_pin(self, protocol: int, params: dict[int, Any]) -> None:
        if self.store.pin_hash is not None:
            raise PinFailure(ERR.NOT_ALLOWED)
        new_pin_enc = params.get(5)
        if not isinstance(new_pin_enc, bytes) or 4 not in params:
            raise PinFailure(ERR.MISSING_PARAMETER)
        shared = self._checked_secret(protocol, params, new_pin_enc)
        self.store.pin_hash = self._new_pin_hash(protocol, shared, new_pin_enc)
        self.store.pin_retries = PIN_RETRIES_MAX
        return None

    def _verify_pin_hash(self, protocol: int, shared: bytes, pin_hash_enc: Any) -> None:
        if self.store.pin_hash is None:
            raise PinFailure(ERR.PIN_NOT_SET)
        if self.store.pin_retries <= 0:
            raise PinFailure(ERR.PIN_BLOCKED)
        if self.mismatches >= MAX_CONSECUTIVE_MISMATCHES:
            raise PinFailure(ERR.PIN_AUTH_BLOCKED)
        self.store.pin_retries -= 1
        try:
            given = PROTOCOLS[protocol].decrypt(shared, pin_hash_enc)
        except (TypeError, ValueError):
            given = b""
        if not hmac.compare_digest(given, self.store.pin_hash):
            self.mismatches += 1
            self._regenerate()
            if self.store.pin_retries <= 0:
                raise PinFailure(ERR.PIN_BLOCKED)
            if self.mismatches >= MAX_CONSECUTIVE_MISMATCHES:
                raise PinFailure(ERR.PIN_AUTH_BLOCKED)
            raise PinFailure(ERR.PIN_INVALID)
        self.mismatches = 0
        self.store.pin_retries = PIN_RETRIES_MAX

    def _change_pin(self, protocol: int, params: dict[int, Any]) -> None:
        new_pin_enc, pin_hash_enc = params.get(5), params.get(6)
        if not isinstance(new_pin_enc, bytes) or not isinstance(pin_hash_enc, bytes) or 4 not in params:
            raise PinFailure(ERR.MISSING_PARAMETER)
        shared = self._checked_secret(protocol, params, new_pin_enc + pin_hash_enc)
        self._verify_pin_hash(protocol, shared, pin_hash_enc)
        self.store.pin_hash = self._new_pin_hash(protocol, shared, new_pin_enc)
        self._regenerate()
        return None

    def _get_token(self, protocol: int, params: dict[int, Any], *, legacy: bool) -> dict[int, Any]:
        pin_hash_enc = params.get(6)
        if not isinstance(pin_hash_enc, bytes):
            raise PinFailure(ERR.MISSING_PARAMETER)
        permissions = PERM_MC | PERM_GA if legacy else params.get(9)
        if not legacy and not permissions:
            raise PinFailure(ERR.MISSING_PARAMETER)
        shared = self.shared_secret(protocol, params.get(3))
        self._verify_pin_hash(protocol, shared, pin_hash_enc)
        self.token = os.urandom(32)
        self.permissions, self.rp_id = int(permissions), (None if legacy else params.get(10))
        return {2: PROTOCOLS[protocol].encrypt(shared, self.token)}

    # ---- checking pinUvAuthParam in makeCredential / getAssertion ---------------------------------------
    def verify(self, protocol: Any, param: Any, client_data_hash: bytes, permission: int, rp_id: str) -> None:
        """Raise unless ``param`` is a valid pinUvAuthParam for this request; binds the token to ``rp_id``."""
        if protocol not in PROTOCOLS:
            raise PinFailure(ERR.MISSING_PARAMETER if protocol is None else ERR.INVALID_PARAMETER)
        expected = PROTOCOLS[protocol].authenticate(self.token, client_data_hash)
        if not isinstance(param, bytes) or not hmac.compare_digest(expected, param):
            raise PinFailure(ERR.PIN_AUTH_INVALID)
        if not self.permissions & permission or (self.rp_id is not None and self.rp_id != rp_id):
            raise PinFailure(ERR.PIN_AUTH_INVALID)
        self.rp_id = rp_id
