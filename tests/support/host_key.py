"""The product's software security key, driven by the host's own ceremonies, for the verifier's tests and benches.

``HostKey`` is ``native_host.fido``'s software authenticator behind its CTAPHID framing (a real
``fido2.hid.CtapHidDevice``). ``create`` / ``get`` run the host's WebAuthn ceremonies (what ``fido.create``
/ ``fido.get`` run: origin and rpId rules, clientDataJSON from the origin, python-fido2's client) and answer
RegistrationResponseJSON / AuthenticationResponseJSON; ``u2f_register`` runs the legacy ``u2f.register``
ceremony. A test that hands these to the verifier is end to end between the host's FIDO client and the
verifier. Tests may import both sides; the ``native_host`` and ``verifier`` packages never import each other.
"""

from __future__ import annotations

import os
from typing import Any

from fido2.ctap1 import RegistrationData
from fido2.utils import websafe_decode, websafe_encode

from native_host.fido.ceremonies import u2f, webauthn
from native_host.fido.discovery import KeyHandle
from native_host.fido.soft_transports.hid import open_soft_hid_device
from native_host.fido.softkey.authenticator import SoftAuthenticator
from native_host.fido.softkey.store import KeyStore


class HostKey:
    """One software key (``ctap2=False``: U2F-only; ``u2f=False``: FIDO2-only) as the host sees a USB key."""

    def __init__(self, *, ctap2: bool = True, u2f: bool = True, authenticator: SoftAuthenticator | None = None,
                 name: str = "test key") -> None:
        self.authenticator = authenticator or SoftAuthenticator(ctap2=ctap2, u2f=u2f)
        self.device = open_soft_hid_device(self.authenticator, path=f"soft:{name}")
        self.handle = KeyHandle.for_device(self.device, "usb", name)

    @property
    def store(self) -> KeyStore:
        """The key's state: ``store.counter`` (set it back to play a clone), ``store.attestation_root`` (DER)."""
        return self.authenticator.store

    def create(self, origin: str, options: Any, *, attestation_allowed: bool = True) -> dict[str, Any]:
        """navigator.credentials.create on ``origin`` through the host → RegistrationResponseJSON. The user
        agrees to send the key's attestation when the site asks for it (the verifier's attestation tests
        need it); ``attestation_allowed=False`` plays the user who did not."""
        return webauthn.create(origin, options, [self.handle], attestation_allowed=attestation_allowed)

    def get(self, origin: str, options: Any) -> dict[str, Any]:
        """navigator.credentials.get on ``origin`` through the host → AuthenticationResponseJSON (with the
        ``appid`` extension, a U2F key handle signs under the appId, as browsers do)."""
        return webauthn.get(origin, options, [self.handle])

    def u2f_register(self, origin: str, app_id: str) -> tuple[bytes, bytes]:
        """A legacy ``window.u2f.register`` on ``origin`` through the host → (key handle, public key)."""
        challenge = websafe_encode(os.urandom(32))
        reply = u2f.register(origin, app_id, [{"version": "U2F_V2", "challenge": challenge}], [], [self.handle])
        registration = RegistrationData(websafe_decode(reply["registrationData"]))
        return registration.key_handle, registration.public_key


__all__ = ["HostKey"]
