"""The security-key half of vault key slots: make a credential with hmac-secret, and read its secret.

This speaks CTAP2 directly (``fido2.ctap2.Ctap2`` plus python-fido2's hmac-secret extension processor),
not the WebAuthn client: the credential belongs to the vault, not to a web site, so no origin and no
clientDataJSON are involved, and the fixed rpId (``key_slot.VAULT_RP_ID``, under the reserved ``.invalid``
name) is one python-fido2's client would refuse as no web origin's. The client data hash is random.

    enrolment = enrol(keys, on_event=..., cancel=...)          # two touches: makeCredential, getAssertion
    slot, secret = read_secret(keys, slots, on_event=..., cancel=...)   # one touch

The first key touched wins (``race.first_touched``); events are the ceremonies' (``fido.touch``,
``fido.selected``, ``fido.key_removed``). A key without hmac-secret gets ``fido_unsupported``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fido2.ctap2 import Ctap2
from fido2.ctap2.extensions import HMACGetSecretInput, HmacSecretExtension
from fido2.ctap2.pin import ClientPin
from fido2.hid import CAPABILITY

from .ceremonies.failures import to_fido_error
from .ceremonies.interaction import EventSink, HostInteraction, no_events
from .ceremonies.key_lock import key_in_use
from .ceremonies.race import first_touched
from .discovery import KeyHandle
from .errors import FidoError, NoCredential

TOUCH_TIMEOUT = 60.0  # seconds to touch the key, for each touch
ES256 = -7


@dataclass(frozen=True)
class Enrolment:
    """A new credential with hmac-secret on ``key_name`` and its secret for ``salt``."""

    credential_id: bytes
    rp_id: str
    salt: bytes
    secret: bytes
    key_name: str


@dataclass(frozen=True)
class _HmacRequest:
    """The two attributes of a WebAuthn request python-fido2's hmac-secret processor reads."""

    extensions: Mapping[str, Any]
    allow_credentials: Any = None


def _ctap2(key: KeyHandle) -> Ctap2:
    cached = key.ceremony_cache.get("ctap2")
    if cached is None:
        device = key.device()
        if not device.capabilities & CAPABILITY.CBOR:
            raise FidoError(f"{key.name} is a U2F-only key: it has no hmac-secret (PRF) to unlock the vault with",
                            code="fido_unsupported")
        cached = key.ceremony_cache["ctap2"] = Ctap2(device)
    return cached


def _hmac_extension(ctap: Ctap2, key: KeyHandle) -> tuple[HmacSecretExtension, Any]:
    extension = HmacSecretExtension(allow_hmac_secret=True)
    if not extension.is_supported(ctap):
        raise FidoError(f"{key.name} has no hmac-secret (PRF): it cannot unlock the vault", code="fido_unsupported")
    return extension, ClientPin(ctap).protocol  # the key-agreement protocol the key prefers


def _secret(key: KeyHandle, rp_id: str, credential_id: bytes, salt: bytes, stop: Any,
            interaction: HostInteraction) -> bytes:
    """One getAssertion for ``credential_id`` with hmac-secret(salt): the 32-byte output (a touch)."""
    ctap = _ctap2(key)
    extension, protocol = _hmac_extension(ctap, key)
    processor = extension.get_assertion(ctap, _HmacRequest({"hmacGetSecret": HMACGetSecretInput(salt1=salt)}),
                                        protocol)
    assertion = ctap.get_assertion(
        rp_id, os.urandom(32), [{"type": "public-key", "id": credential_id}],
        extensions=processor.prepare_inputs(None, None), options={"up": True},
        event=stop, on_keepalive=lambda status: interaction.prompt_up())
    outputs = processor.prepare_outputs(assertion, None) or {}
    output = outputs.get("hmacGetSecret")
    if output is None:
        raise FidoError(f"{key.name} gave no hmac-secret output", code="fido_unsupported")
    return bytes(output.output1)


def enrol(keys: Sequence[KeyHandle], *, rp_id: str, salt: bytes, user_name: str = "vault",
          on_event: EventSink = no_events, cancel: threading.Event | None = None,
          timeout: float = TOUCH_TIMEOUT) -> Enrolment:
    """Make a non-resident credential with hmac-secret on the first key touched, then read its secret."""

    def work(key: KeyHandle, stop: Any) -> Enrolment:
        interaction = HostInteraction(key.id, on_event, None)
        with key_in_use(key, stop, lambda: on_event("fido.key_busy", {"device": key.id})):
            ctap = _ctap2(key)
            _hmac_extension(ctap, key)
            made = ctap.make_credential(
                os.urandom(32), {"id": rp_id, "name": "tracker2fa vault"},
                {"id": os.urandom(16), "name": user_name, "displayName": user_name},
                [{"type": "public-key", "alg": ES256}], extensions={"hmac-secret": True},
                event=stop, on_keepalive=lambda status: interaction.prompt_up())
            if not (made.auth_data.extensions or {}).get("hmac-secret"):
                raise FidoError(f"{key.name} did not enable hmac-secret for the credential", code="fido_unsupported")
            credential = made.auth_data.credential_data
            assert credential is not None  # makeCredential always returns attested credential data
            interaction = HostInteraction(key.id, on_event, None)  # a second "touch your key"
            secret = _secret(key, rp_id, credential.credential_id, salt, stop, interaction)
        return Enrolment(credential.credential_id, rp_id, salt, secret, key.name)

    _key, enrolment = first_touched(keys, work, cancel=cancel, timeout=timeout, on_event=on_event,
                                    to_fido_error=lambda exc, key: to_fido_error(exc, key, creating=True))
    return enrolment


def read_secret(keys: Sequence[KeyHandle], slots: Sequence[Mapping[str, Any]], *,
                on_event: EventSink = no_events, cancel: threading.Event | None = None,
                timeout: float = TOUCH_TIMEOUT) -> tuple[Mapping[str, Any], bytes]:
    """The first slot whose credential the touched key holds, and its hmac-secret output.

    Each slot is asked in turn: a key answers "no credential" at once for a slot that is not its own,
    before it waits for a touch. NoCredential when a key holds none of them.
    """
    from native_host.vault.key_slot import credential_of, salt_of

    def work(key: KeyHandle, stop: Any) -> tuple[Mapping[str, Any], bytes]:
        interaction = HostInteraction(key.id, on_event, None)
        with key_in_use(key, stop, lambda: on_event("fido.key_busy", {"device": key.id})):
            for slot in slots:
                try:
                    return slot, _secret(key, slot["rp_id"], credential_of(slot), salt_of(slot), stop, interaction)
                except Exception as exc:
                    if not isinstance(to_fido_error(exc, key, creating=False), NoCredential):
                        raise
        raise NoCredential(f"{key.name} holds none of the vault's security-key credentials")

    _key, found = first_touched(keys, work, cancel=cancel, timeout=timeout, on_event=on_event,
                                to_fido_error=lambda exc, key: to_fido_error(exc, key, creating=False))
    return found


def unlock_vault(vault_file: Any, keys: Sequence[KeyHandle], *, on_event: EventSink = no_events,
                 cancel: threading.Event | None = None, timeout: float = TOUCH_TIMEOUT) -> Any:
    """``vault_file`` (a ``VaultFile``) unlocked by touching a key enrolled in one of its slots.

    A key holding none of the slots' credentials is ``wrong_security_key`` (like a wrong password: nothing
    is changed); no key at all, a cancel or a timeout keep their ``fido_*`` codes."""
    from native_host.vault.key_slot import WrongSecurityKey

    def reader(slots: list[dict[str, Any]]) -> tuple[Mapping[str, Any], bytes]:
        try:
            return read_secret(keys, slots, on_event=on_event, cancel=cancel, timeout=timeout)
        except NoCredential:
            raise WrongSecurityKey("this security key is not enrolled in the vault; touch the enrolled one "
                                   "or use the password") from None

    return vault_file.unlock_with_security_key(reader)


def enrol_in_vault(vault: Any, keys: Sequence[KeyHandle], *, name: str | None = None, on_event: EventSink = no_events,
                   cancel: threading.Event | None = None, timeout: float = TOUCH_TIMEOUT) -> dict[str, Any]:
    """Enrol the first key touched in ``vault`` (an ``UnlockedVault``): a new fido2-prf slot, saved, named
    ``name`` or else after the key."""
    from native_host.vault import key_slot

    if name is not None:
        key_slot.checked_name(name)  # refuse before asking for a touch
    key_slot.check_room(vault.slot_count())
    enrolment = enrol(keys, rp_id=key_slot.VAULT_RP_ID, salt=key_slot.new_salt(), on_event=on_event,
                      cancel=cancel, timeout=timeout)
    return vault.add_key_slot(credential_id=enrolment.credential_id, rp_id=enrolment.rp_id, salt=enrolment.salt,
                              secret=enrolment.secret, name=name or _printable(enrolment.key_name))


def _printable(text: str) -> str:
    """A key's name as a slot name (printable, 64 characters at most: format.MAX_SLOT_NAME_LENGTH)."""
    return "".join(c for c in text if c.isprintable())[:64] or "security key"
