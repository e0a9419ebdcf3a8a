"""A cheap WebAuthn assertion maker for the verifier's load test, as wrk is for TOTP: the signing math only.

The key is registered through the real ceremony (the host's software key, tests/support/host_key.py);
this class then answers ``navigator.credentials.get`` options with the same key: clientDataJSON, authData
(rpIdHash, user present, the next counter) and an ECDSA P-256 signature, built directly. python-fido2's
client and the CTAPHID framing cost several times what the server spends on an assertion, so a Python
client using them cannot keep the server busy; the server still checks every assertion with python-fido2.
"""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.utils import websafe_decode, websafe_encode

USER_PRESENT = 0x01


class FastSigner:
    """Signs assertions for one credential of a software key (its private key and counter taken over)."""

    def __init__(self, host_key: Any, origin: str) -> None:
        (credential,) = host_key.store.credentials.values()
        self.credential_id = websafe_encode(credential.credential_id)
        self.private_key: ec.EllipticCurvePrivateKey = credential.private_key
        self.counter = host_key.store.counter
        self.origin = origin

    def get(self, options: dict[str, Any]) -> dict[str, Any]:
        """AuthenticationResponseJSON for PublicKeyCredentialRequestOptions ``options`` (``{"publicKey": …}``)."""
        public_key = options["publicKey"]
        websafe_decode(public_key["challenge"])  # must be base64url
        client_data = json.dumps({"type": "webauthn.get", "challenge": public_key["challenge"],
                                  "origin": self.origin, "crossOrigin": False}, separators=(",", ":")).encode()
        self.counter += 1
        auth_data = (hashlib.sha256(public_key["rpId"].encode()).digest() + bytes([USER_PRESENT])
                     + struct.pack(">I", self.counter))
        signature = self.private_key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {"id": self.credential_id, "rawId": self.credential_id, "type": "public-key",
                "response": {"clientDataJSON": websafe_encode(client_data),
                             "authenticatorData": websafe_encode(auth_data),
                             "signature": websafe_encode(signature)},
                "clientExtensionResults": {}}
