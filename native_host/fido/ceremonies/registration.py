"""What a registration tells the site, decided as a browser decides it.

- **Attestation.** A key's attestation (its batch certificate and AAGUID: the make and model) goes to a site
  only when the site asked for it (``direct``, ``indirect`` or ``enterprise``) *and* the user agreed in the
  consent UI. Otherwise the attestation object is rewritten the way Chromium does for ``"none"``: format
  ``none``, an empty statement and an all-zero AAGUID (the credential id and public key are unchanged, so
  the credential works as before). The authenticator data is not signed by anything once the statement is
  gone, so changing its AAGUID invalidates nothing.
- **The WebAuthn Level 3 JSON members** of a registration (``authenticatorData``, ``publicKey`` as a DER
  SubjectPublicKeyInfo, ``publicKeyAlgorithm``), read from the attestation object: what Chromium's
  ``toJSON()`` carries and what servers reading ``publicKey`` need. ``publicKey`` is left out for an
  algorithm Chromium cannot express either (anything but ES256, EdDSA and RS256).

Pure functions over bytes and JSON; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fido2.cose import ES256, RS256, CoseKey, EdDSA
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import AttestationObject, AttestedCredentialData, AuthenticatorData

CONVEYED = frozenset({"direct", "indirect", "enterprise"})  # what a site may ask the user to reveal
ZERO_AAGUID = bytes(16)


def asks_for_attestation(options: Mapping[str, Any]) -> bool:
    """True when the creation options (WebAuthn JSON) ask for the key's attestation."""
    return options.get("attestation") in CONVEYED


def without_attestation(attestation_object: bytes) -> bytes:
    """The attestation object as a browser sends it for ``attestation: "none"``: format ``none``, an empty
    statement, the AAGUID zeroed. Raises ValueError on an object that is not a registration's."""
    original = AttestationObject(attestation_object)
    auth_data = original.auth_data
    credential = auth_data.credential_data
    if credential is None:
        raise ValueError("the attestation object holds no credential")
    anonymous = AttestedCredentialData.create(ZERO_AAGUID, credential.credential_id, credential.public_key)
    rebuilt = AuthenticatorData.create(auth_data.rp_id_hash, auth_data.flags, auth_data.counter, anonymous,
                                       auth_data.extensions)
    return bytes(AttestationObject.create("none", rebuilt, {}))


def public_key_spki(key: CoseKey) -> bytes | None:
    """The credential's public key as DER SubjectPublicKeyInfo (``getPublicKey()``), or None for an algorithm
    a browser does not express that way."""
    public: Any
    if isinstance(key, ES256):
        public = ec.EllipticCurvePublicNumbers(int.from_bytes(key[-2], "big"), int.from_bytes(key[-3], "big"),
                                               ec.SECP256R1()).public_key()
    elif isinstance(key, EdDSA) and key.get(-1) == 6:  # Ed25519
        public = ed25519.Ed25519PublicKey.from_public_bytes(key[-2])
    elif isinstance(key, RS256):
        public = rsa.RSAPublicNumbers(int.from_bytes(key[-2], "big"), int.from_bytes(key[-1], "big")).public_key()
    else:
        return None
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def level3_members(attestation_object: bytes) -> dict[str, Any]:
    """``authenticatorData``, ``publicKeyAlgorithm`` and (when expressible) ``publicKey`` of a registration,
    in the JSON form (base64url)."""
    auth_data = AttestationObject(attestation_object).auth_data
    credential = auth_data.credential_data
    members: dict[str, Any] = {"authenticatorData": websafe_encode(bytes(auth_data))}
    if credential is not None:
        members["publicKeyAlgorithm"] = int(credential.public_key[3])
        spki = public_key_spki(credential.public_key)
        if spki is not None:
            members["publicKey"] = websafe_encode(spki)
    return members


def finish_registration(result: dict[str, Any], options: Mapping[str, Any], *, attestation_allowed: bool) -> None:
    """Apply the attestation decision to a RegistrationResponseJSON in place and add the Level 3 members."""
    response = result["response"]
    attestation_object = websafe_decode(response["attestationObject"])
    if not (attestation_allowed and asks_for_attestation(options)):
        attestation_object = without_attestation(attestation_object)
        response["attestationObject"] = websafe_encode(attestation_object)
    response.update(level3_members(attestation_object))
