"""A minimal ES256 WebAuthn client+authenticator for the benchmark: answers in the WebAuthn JSON form.

Only what the benchmark needs (none attestation, user presence, an increasing sign counter); the
project's full software authenticator lives in native_host/fido.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import websafe_encode
from fido2.webauthn import Aaguid, AttestationObject, AttestedCredentialData, AuthenticatorData


def _public_key(options: dict[str, Any]) -> dict[str, Any]:
    return options.get("publicKey", options)


class SoftKey:
    """One credential: registers once, then signs assertions with a strictly increasing counter."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.counter = 0
        self.rp_id = ""

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin,
                           "crossOrigin": False}, separators=(",", ":")).encode()

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        """Answer navigator.credentials.create(options)."""
        pk = _public_key(options)
        self.rp_id = pk["rp"]["id"]
        client_data = self._client_data("webauthn.create", pk["challenge"])
        cose = ES256.from_cryptography_key(self.key.public_key())
        auth_data = AuthenticatorData.create(
            hashlib.sha256(self.rp_id.encode()).digest(),
            AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.AT, self.counter,
            AttestedCredentialData.create(Aaguid.NONE, self.credential_id, cose))
        attestation = AttestationObject.create("none", auth_data, {})
        cid = websafe_encode(self.credential_id)
        return {"id": cid, "rawId": cid, "type": "public-key", "clientExtensionResults": {},
                "response": {"clientDataJSON": websafe_encode(client_data),
                             "attestationObject": websafe_encode(bytes(attestation))}}

    def get(self, options: dict[str, Any]) -> dict[str, Any]:
        """Answer navigator.credentials.get(options)."""
        pk = _public_key(options)
        rp_id = pk.get("rpId") or self.rp_id
        self.counter += 1
        client_data = self._client_data("webauthn.get", pk["challenge"])
        auth_data = bytes(AuthenticatorData.create(hashlib.sha256(rp_id.encode()).digest(),
                                                   AuthenticatorData.FLAG.UP, self.counter))
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        cid = websafe_encode(self.credential_id)
        return {"id": cid, "rawId": cid, "type": "public-key", "clientExtensionResults": {},
                "response": {"clientDataJSON": websafe_encode(client_data),
                             "authenticatorData": websafe_encode(auth_data),
                             "signature": websafe_encode(signature)}}


__all__ = ["SoftKey"]
