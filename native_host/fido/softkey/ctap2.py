"""CTAP2 command processing: getInfo, makeCredential, getAssertion, getNextAssertion, clientPIN, reset,
selection, with credProtect and hmac-secret (PRF).

Each command is a generator: it yields a :class:`PresenceRequest` when it needs a touch and is sent
``True``/``False`` back; its return value is the reply (status byte + canonical CBOR). The transport
framing decides how to wait (keepalives) and how to cancel (closing the generator).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Generator
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor
from fido2.cose import ES256
from fido2.ctap import CtapError

from .pin import PERM_GA, PERM_MC, PROTOCOLS, PinFailure, PinState
from .presence import PresenceRequest
from .store import Credential, KeyStore

ERR = CtapError.ERR
Command = Generator[PresenceRequest, bool, bytes]

FLAG_UP, FLAG_UV, FLAG_AT, FLAG_ED = 0x01, 0x04, 0x40, 0x80
MAX_MSG_SIZE = 1200
MAX_CRED_ID_LENGTH = 64


class Refused(Exception):
    """Ends a command with this CTAP2 status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _status(status: int) -> bytes:
    return bytes([status])


def _ok(reply: dict[int, Any] | None) -> bytes:
    return b"\x00" + (cbor.encode(reply) if reply is not None else b"")


class Ctap2Core:
    """A CTAP 2.1 authenticator over one :class:`KeyStore` (sans-I/O)."""

    def __init__(self, store: KeyStore, *, transports: tuple[str, ...] = ("usb",), u2f: bool = True) -> None:
        self.store = store
        self.transports = list(transports)
        self.u2f = u2f
        self.pin = PinState(store)
        self._pending_assertions: list[bytes] = []  # encoded replies for getNextAssertion

    # ---- dispatch ----------------------------------------------------------------------------------------
    def handle(self, request: bytes) -> Command:
        """One CTAP2 request (command byte + CBOR map) → status byte + CBOR map."""
        if not request:
            return _status(ERR.INVALID_LENGTH)
        command, body = request[0], request[1:]
        try:
            params = cbor.decode(body) if body else {}
        except Exception:
            return _status(ERR.INVALID_CBOR)
        if not isinstance(params, dict):
            return _status(ERR.CBOR_UNEXPECTED_TYPE)
        handlers = {0x01: self._make_credential, 0x02: self._get_assertion, 0x04: self._get_info,
                    0x06: self._client_pin, 0x07: self._reset, 0x08: self._get_next_assertion,
                    0x0B: self._selection}
        handler = handlers.get(command)
        if handler is None:
            return _status(ERR.INVALID_COMMAND)
        if command != 0x08:
            self._pending_assertions = []
        try:
            return (yield from handler(params))
        except Refused as exc:
            return _status(exc.status)
        except PinFailure as exc:
            return _status(exc.status)
        except (KeyError, TypeError, AttributeError, ValueError, IndexError):
            return _status(ERR.CBOR_UNEXPECTED_TYPE)  # a parameter of the wrong shape

    def _presence(self, purpose: str, rp_id: str | None) -> Generator[PresenceRequest, bool, None]:
        if not (yield PresenceRequest(purpose, rp_id)):
            raise Refused(ERR.OPERATION_DENIED)

    # ---- getInfo -----------------------------------------------------------------------------------------
    def info(self) -> dict[int, Any]:
        versions = (["U2F_V2"] if self.u2f else []) + ["FIDO_2_0", "FIDO_2_1"]
        options = {"rk": True, "up": True, "plat": False, "clientPin": self.store.pin_hash is not None,
                   "pinUvAuthToken": True, "makeCredUvNotRqd": True}
        return {1: versions, 2: ["credProtect", "hmac-secret"], 3: self.store.aaguid, 4: options,
                5: MAX_MSG_SIZE, 6: [2, 1], 7: 8, 8: MAX_CRED_ID_LENGTH, 9: self.transports,
                10: [{"type": "public-key", "alg": -7}], 0x0D: 4, 0x14: 25}

    def _get_info(self, params: dict[int, Any]) -> Command:
        return _ok(self.info())
        yield  # a generator without presence checks

    # ---- PIN ---------------------------------------------------------------------------------------------
    def _client_pin(self, params: dict[int, Any]) -> Command:
        return _ok(self.pin.handle(params))
        yield

    def _verified(self, params: dict[int, Any], auth_key: int, proto_key: int, cdh: bytes,
                  permission: int, rp_id: str) -> bool:
        """True when a valid pinUvAuthParam came with the request (user verified)."""
        if auth_key not in params:
            return False
        self.pin.verify(params.get(proto_key), params[auth_key], cdh, permission, rp_id)
        return True

    def _pin_probe(self, params: dict[int, Any], auth_key: int, rp_id: str) -> Command:
        """An empty pinUvAuthParam: the platform asks for a touch to pick this key (CTAP2 §6.1.2 step 1)."""
        yield from self._presence("selection", rp_id)
        raise Refused(ERR.PIN_INVALID if self.store.pin_hash is not None else ERR.PIN_NOT_SET)

    # ---- makeCredential ----------------------------------------------------------------------------------
    def _make_credential(self, params: dict[int, Any]) -> Command:
        if not all(k in params for k in (1, 2, 3, 4)):
            raise Refused(ERR.MISSING_PARAMETER)
        cdh, rp, user, algs = params[1], params[2], params[3], params[4]
        if not isinstance(cdh, bytes) or not isinstance(rp, dict) or not isinstance(user, dict):
            raise Refused(ERR.CBOR_UNEXPECTED_TYPE)
        rp_id = rp["id"]
        if params.get(8) == b"":
            yield from self._pin_probe(params, 8, rp_id)
        if not any(p.get("type") == "public-key" and p.get("alg") == -7 for p in algs):
            raise Refused(ERR.UNSUPPORTED_ALGORITHM)
        options = params.get(7) or {}
        if options.get("uv"):
            raise Refused(ERR.INVALID_OPTION)  # no built-in user verification: PIN only
        if options.get("up") is False:
            raise Refused(ERR.INVALID_OPTION)
        resident = bool(options.get("rk"))
        verified = self._verified(params, 8, 9, cdh, PERM_MC, rp_id)
        if self.store.pin_hash is not None and not verified and resident:
            raise Refused(ERR.PUAT_REQUIRED)  # makeCredUvNotRqd covers non-resident credentials only
        rp_id_hash = hashlib.sha256(rp_id.encode()).digest()
        for descriptor in params.get(5) or []:
            known = self.store.credentials.get(descriptor["id"])
            if known and known.rp_id_hash == rp_id_hash and (known.cred_protect < 3 or verified):
                yield from self._presence("makeCredential", rp_id)
                raise Refused(ERR.CREDENTIAL_EXCLUDED)
        extensions = params.get(6) or {}
        cred_protect = extensions.get("credProtect", 1)
        if cred_protect not in (1, 2, 3):
            raise Refused(ERR.INVALID_OPTION)
        yield from self._presence("makeCredential", rp_id)

        user_entity = dict(user) if resident else None
        cred = Credential(os.urandom(32), ec.generate_private_key(ec.SECP256R1()), rp_id_hash, rp_id,
                          user_entity, resident, cred_protect)
        if resident:  # one resident credential per (rp, user handle)
            for old in [c for c in self.store.credentials.values()
                        if c.resident and c.rp_id_hash == rp_id_hash and (c.user or {}).get("id") == user.get("id")]:
                del self.store.credentials[old.credential_id]
        self.store.add(cred)
        ext_out: dict[str, Any] = {}
        if "credProtect" in extensions:
            ext_out["credProtect"] = cred_protect
        if extensions.get("hmac-secret") is True:
            ext_out["hmac-secret"] = True
        cose = cbor.encode(dict(ES256.from_cryptography_key(cred.private_key.public_key())))
        attested = self.store.aaguid + struct.pack(">H", len(cred.credential_id)) + cred.credential_id + cose
        flags = FLAG_UP | FLAG_AT | (FLAG_UV if verified else 0) | (FLAG_ED if ext_out else 0)
        auth_data = rp_id_hash + bytes([flags]) + struct.pack(">I", self.store.next_counter()) + attested
        if ext_out:
            auth_data += cbor.encode(ext_out)
        # "packed" full attestation: the key's attestation certificate, issued by its private root.
        signature = self.store.attestation_key.sign(auth_data + cdh, ec.ECDSA(hashes.SHA256()))
        return _ok({1: "packed", 2: auth_data, 3: {"alg": -7, "sig": signature, "x5c": [self.store.attestation_cert]}})

    # ---- getAssertion ------------------------------------------------------------------------------------
    def _get_assertion(self, params: dict[int, Any]) -> Command:
        if 1 not in params or 2 not in params:
            raise Refused(ERR.MISSING_PARAMETER)
        rp_id, cdh = params[1], params[2]
        if not isinstance(rp_id, str) or not isinstance(cdh, bytes):
            raise Refused(ERR.CBOR_UNEXPECTED_TYPE)
        if params.get(6) == b"":
            yield from self._pin_probe(params, 6, rp_id)
        options = params.get(5) or {}
        if options.get("uv"):
            raise Refused(ERR.INVALID_OPTION)
        if options.get("rk") is not None:
            raise Refused(ERR.INVALID_OPTION)  # rk is not a getAssertion option (CTAP 2.1 §6.2)
        user_presence = options.get("up", True)
        verified = self._verified(params, 6, 7, cdh, PERM_GA, rp_id)
        rp_id_hash = hashlib.sha256(rp_id.encode()).digest()
        allow_list = params.get(3) or []
        if allow_list:
            candidates = [self.store.credentials[d["id"]] for d in allow_list
                          if d.get("id") in self.store.credentials
                          and self.store.credentials[d["id"]].rp_id_hash == rp_id_hash]
            candidates = [c for c in candidates if c.cred_protect < 3 or verified]
        else:
            candidates = [c for c in self.store.credentials.values() if c.resident and c.rp_id_hash == rp_id_hash
                          and (c.cred_protect == 1 or verified)]
            candidates.sort(key=lambda c: -c.created)
        if not candidates:
            raise Refused(ERR.NO_CREDENTIALS)
        if user_presence:
            yield from self._presence("getAssertion", rp_id)
        extensions = params.get(4) or {}
        hmac_input = extensions.get("hmac-secret")
        if hmac_input is not None and not user_presence:
            raise Refused(ERR.UNSUPPORTED_OPTION)  # hmac-secret needs a touch
        replies = [self._assertion(c, rp_id_hash, cdh, user_presence, verified, hmac_input, bool(allow_list))
                   for c in (candidates[:1] if allow_list else candidates)]
        first = replies[0]
        if len(replies) > 1:
            first[5] = len(replies)
        self._pending_assertions = [cbor.encode(r) for r in replies[1:]]
        return _ok(first)

    def _assertion(self, cred: Credential, rp_id_hash: bytes, cdh: bytes, up: bool, uv: bool,
                   hmac_input: Any, allow_listed: bool) -> dict[int, Any]:
        ext_out: dict[str, Any] = {}
        if hmac_input is not None:
            ext_out["hmac-secret"] = self._hmac_secret(cred, hmac_input, uv)
        flags = (FLAG_UP if up else 0) | (FLAG_UV if uv else 0) | (FLAG_ED if ext_out else 0)
        auth_data = rp_id_hash + bytes([flags]) + struct.pack(">I", self.store.next_counter())
        if ext_out:
            auth_data += cbor.encode(ext_out)
        reply: dict[int, Any] = {1: {"type": "public-key", "id": cred.credential_id}, 2: auth_data,
                                 3: cred.private_key.sign(auth_data + cdh, ec.ECDSA(hashes.SHA256()))}
        if cred.resident and cred.user is not None:
            # Without UV only the user handle may be revealed (CTAP 2.1 §6.2.2 step 12).
            reply[4] = dict(cred.user) if uv else {"id": cred.user["id"]}
        return reply

    def _hmac_secret(self, cred: Credential, data: Any, uv: bool) -> bytes:
        protocol = data.get(4, 1)
        if protocol not in PROTOCOLS:
            raise Refused(ERR.INVALID_PARAMETER)
        shared = self.pin.shared_secret(protocol, data.get(1))
        salt_enc, salt_auth = data.get(2), data.get(3)
        if not isinstance(salt_enc, bytes) or not isinstance(salt_auth, bytes):
            raise Refused(ERR.MISSING_PARAMETER)
        pin_protocol = PROTOCOLS[protocol]
        if not hmac.compare_digest(pin_protocol.authenticate(shared, salt_enc), salt_auth):
            raise Refused(ERR.EXTENSION_FIRST)  # CTAP 2.1: a bad saltAuth ends with this status
        salts = pin_protocol.decrypt(shared, salt_enc)
        if len(salts) not in (32, 64):
            raise Refused(ERR.INVALID_LENGTH)
        secret = cred.cred_random_uv if uv else cred.cred_random
        output = b"".join(hmac.new(secret, salts[i : i + 32], hashlib.sha256).digest()
                          for i in range(0, len(salts), 32))
        return pin_protocol.encrypt(shared, output)

    def _get_next_assertion(self, params: dict[int, Any]) -> Command:
        if not self._pending_assertions:
            raise Refused(ERR.NOT_ALLOWED)
        return b"\x00" + self._pending_assertions.pop(0)
        yield

    # ---- reset, selection --------------------------------------------------------------------------------
    def _reset(self, params: dict[int, Any]) -> Command:
        yield from self._presence("reset", None)
        self.store.reset()
        self.pin = PinState(self.store)
        return _ok(None)

    def _selection(self, params: dict[int, Any]) -> Command:
        yield from self._presence("selection", None)
        return _ok(None)
