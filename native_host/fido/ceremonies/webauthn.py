"""WebAuthn create/get for a browser-supplied origin, in the standard JSON forms.

In: PublicKeyCredentialCreationOptionsJSON / PublicKeyCredentialRequestOptionsJSON (base64url).
Out: RegistrationResponseJSON / AuthenticationResponseJSON, as ``PublicKeyCredential.toJSON()`` gives.
The host builds clientDataJSON from the origin the browser reported; the rpId is checked against it with
python-fido2's ``verify_rp_id`` (PSL) before any key is touched, and again inside python-fido2.

Privacy as a browser keeps it: "no credential" (or "already registered") is reported only after the user
has touched the key, so the answer's timing never tells a page which credential ids exist; attestation
is sent only when the site asked and the user agreed (:mod:`.registration`). A wrong PIN is asked again,
with the tries the key has left, until the key blocks it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap1 import Ctap1
from fido2.ctap2 import Ctap2
from fido2.hid import CAPABILITY
from fido2.utils import websafe_encode
from fido2.webauthn import (
    CollectedClientData,
    PublicKeyCredentialCreationOptions,
    PublicKeyCredentialRequestOptions,
    UserVerificationRequirement,
)

from .. import fido2_caches
from ..discovery import KeyHandle
from ..errors import CredentialExcluded, FidoBadRequest, NoCredential, PinInvalid
from .failures import to_fido_error
from .interaction import EventSink, HostInteraction, PinProvider, no_events
from .key_lock import key_in_use
from .race import first_touched
from .registration import finish_registration
from .rules import check_app_id, check_rp_id, checked_origin, host_of, top_origin_of
from .u2f_polling import poll_until_touched

fido2_caches.install()  # python-fido2 re-derives per-class facts for every object it builds (fido2_caches.py)

DEFAULT_TIMEOUT = 120.0  # seconds, when the page gives none (browsers use a few minutes)
TRANSPORT_NAMES = {"usb": "usb", "nfc": "nfc", "ble": "ble", "virtual": "usb"}  # the virtual key speaks HID


class BrowserOriginCollector(DefaultClientDataCollector):
    """clientDataJSON from the browser-reported origin; a specific SecurityError for a foreign rpId first,
    then python-fido2's own ``verify_rp_id`` check (kept, never loosened). Asked from a frame of another
    origin, it says so: ``crossOrigin: true`` and the ``topOrigin``, as browsers write it."""

    def __init__(self, origin: str, top_origin: str | None = None) -> None:
        super().__init__(origin)
        self._top_origin = top_origin

    def collect_client_data(self, options: Any) -> Any:
        rp_id = options.rp.id if isinstance(options, PublicKeyCredentialCreationOptions) else options.rp_id
        check_rp_id(rp_id, self._origin)
        client_data, rp_id = super().collect_client_data(options)
        if self._top_origin is not None:
            client_data = CollectedClientData.create(type=client_data.type, challenge=client_data.challenge,
                                                     origin=self._origin, cross_origin=True,
                                                     topOrigin=self._top_origin)
        return client_data, rp_id


class _PerRequestCollector(DefaultClientDataCollector):
    """The collector of a cached client: the origin is set for each request (the key's lock held)."""

    def __init__(self) -> None:
        super().__init__("https://invalid.invalid")
        self.current: BrowserOriginCollector | None = None

    def collect_client_data(self, options: Any) -> Any:
        assert self.current is not None
        return self.current.collect_client_data(options)


class _PerRequestInteraction(UserInteraction):
    """The user interaction of a cached client, delegating to the current request's."""

    def __init__(self) -> None:
        self.current: HostInteraction | None = None

    def prompt_up(self) -> None:
        if self.current is not None:
            self.current.prompt_up()

    def request_pin(self, permissions: Any, rp_id: str | None) -> str | None:
        return self.current.request_pin(permissions, rp_id) if self.current is not None else None

    def request_uv(self, permissions: Any, rp_id: str | None) -> bool:
        return self.current.request_uv(permissions, rp_id) if self.current is not None else True


def _info_kept_fresh(client: Fido2Client) -> Fido2Client:
    """A client kept across requests read getInfo once, when it was made; ``client.info`` (which decides
    whether "preferred" UV is dropped, see ``_creation_for``) would miss a PIN set on the key since by another
    application. python-fido2 reads getInfo afresh inside every ceremony: keep the latest one as the
    client's ``info`` too, so it is never older than the previous request."""
    backend = getattr(client, "_backend", None)
    ctap2 = getattr(backend, "ctap2", None)
    if ctap2 is None or not hasattr(backend, "info"):
        return client  # a U2F-only key (CTAP1 backend) has no getInfo
    # Weak references: a cycle (ctap2 -> get_info -> ctap2) would leave the device to the garbage collector
    # instead of freeing it when the key's handle drops it.
    fetch, ctap2_ref, backend_ref = type(ctap2).get_info, weakref.ref(ctap2), weakref.ref(backend)

    def get_info() -> Any:
        info = fetch(ctap2_ref())
        owner = backend_ref()
        if owner is not None:
            owner.info = info
        return info

    ctap2.get_info = get_info
    return client


@contextmanager
def fido2_client(key: KeyHandle, origin: str, interaction: HostInteraction,
                 stop: threading.Event | None = None, top_origin: str | None = None) -> Iterator[Fido2Client]:
    """A python-fido2 client for ``key`` bound to this request's origin and prompts, reused across requests.
    Waiting for the key (another request holds it) ends when ``stop`` is set."""
    with key_in_use(key, stop, lambda: interaction.on_event("fido.key_busy", {"device": key.id})):
        cached = key.ceremony_cache.get("fido2_client")
        if cached is None:
            collector, prompts = _PerRequestCollector(), _PerRequestInteraction()
            cached = (_info_kept_fresh(Fido2Client(key.device(), collector, prompts)), collector, prompts)
            key.ceremony_cache["fido2_client"] = cached
        client, collector, prompts = cached
        collector.current, prompts.current = BrowserOriginCollector(origin, top_origin), interaction
        try:
            yield client
        finally:
            collector.current, prompts.current = None, None


def _options_json(options: Any) -> dict[str, Any]:
    if not isinstance(options, Mapping):
        raise FidoBadRequest("options must be a WebAuthn options JSON object")
    options = dict(options)
    if "publicKey" in options and isinstance(options["publicKey"], Mapping):
        options = dict(options["publicKey"])  # tolerate the CredentialCreationOptions wrapper
    if not isinstance(options.get("challenge"), str):
        raise FidoBadRequest("options.challenge must be a base64url string")
    refuse_huge_numbers(options)
    return options


MAX_JSON_NUMBER = 2**24  # above any timeout (ms) or algorithm id WebAuthn JSON carries


def refuse_huge_numbers(value: Any, depth: int = 0) -> None:
    """Raise FidoBadRequest for a number beyond ±MAX_JSON_NUMBER anywhere in ``value`` (or nesting over 32).

    python-fido2's ``from_dict`` turns a number found where bytes belong into ``bytes(number)``: a page
    sending ``{"id": 1e12}`` for a key id would make the host allocate that many bytes.
    """
    if depth > 32:
        raise FidoBadRequest("options are nested too deeply")
    if isinstance(value, Mapping):
        for item in value.values():
            refuse_huge_numbers(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            refuse_huge_numbers(item, depth + 1)
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and \
            not -MAX_JSON_NUMBER <= value <= MAX_JSON_NUMBER:
        raise FidoBadRequest(f"options hold the number {value!r}, out of range for WebAuthn")


def _timeout(options: Any) -> float:
    timeout = options.timeout
    return DEFAULT_TIMEOUT if not timeout else min(max(timeout / 1000, 1.0), 600.0)


def _uv_configured(info: Any) -> bool:
    return any(info.options.get(k) for k in ("uv", "clientPin", "bioEnroll"))


def _json(mapping: Any) -> dict[str, Any]:
    """python-fido2's response mapping as plain dicts and lists (what a JSON round trip gave, at half the cost)."""
    return _plain(mapping)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, str) and type(value) is not str:
        return str.__str__(value)  # an enum member such as PublicKeyCredentialType: its JSON string
    if isinstance(value, int) and type(value) not in (int, bool):
        return int(value)
    return value


def _clean_extension_results(results: dict[str, Any]) -> dict[str, Any]:
    prf = results.get("prf")
    if isinstance(prf, dict) and isinstance(prf.get("results"), dict) and prf["results"].get("second") in ([], None):
        prf["results"].pop("second", None)  # python-fido2 maps a missing second output to [] (pitfall 7)
    return results


# ---- create -------------------------------------------------------------------------------------------------
def parse_creation_options(origin: str, options: Any) -> PublicKeyCredentialCreationOptions:
    data = _options_json(options)
    rp = data.get("rp")
    if not isinstance(rp, Mapping):
        raise FidoBadRequest("options.rp must be an object")
    rp = dict(rp)
    rp.setdefault("id", host_of(origin))  # python-fido2 fails on a missing rp id (pitfall 1)
    check_rp_id(rp["id"], origin)
    data["rp"] = rp
    try:
        return PublicKeyCredentialCreationOptions.from_dict(data)
    except (TypeError, ValueError, KeyError) as exc:
        raise FidoBadRequest(f"malformed creation options: {exc}") from None


def _creation_for(info: Any, options: PublicKeyCredentialCreationOptions) -> PublicKeyCredentialCreationOptions:
    """python-fido2 refuses "preferred" UV on a key with no PIN set; a browser proceeds without UV."""
    selection = options.authenticator_selection
    uv = selection.user_verification if selection else None
    if uv in (None, UserVerificationRequirement.PREFERRED) and not _uv_configured(info) and selection:
        selection = dataclasses.replace(selection, user_verification=UserVerificationRequirement.DISCOURAGED)
        return dataclasses.replace(options, authenticator_selection=selection)
    if selection is None and not _uv_configured(info):
        from fido2.webauthn import AuthenticatorSelectionCriteria

        selection = AuthenticatorSelectionCriteria(user_verification=UserVerificationRequirement.DISCOURAGED)
        return dataclasses.replace(options, authenticator_selection=selection)
    return options


def create(origin: str, options: Any, keys: Sequence[KeyHandle], *, on_event: EventSink = no_events,
           pin_provider: PinProvider | None = None, cancel: threading.Event | None = None,
           attestation_allowed: bool = False, top_origin: str | None = None) -> dict[str, Any]:
    """navigator.credentials.create for ``origin`` → RegistrationResponseJSON (first key touched wins).

    The key's attestation reaches the site only when it asked for it and ``attestation_allowed`` (the
    user agreed); otherwise the response carries ``fmt: "none"`` and a zero AAGUID, as in Chromium.
    """
    origin = checked_origin(origin)
    top = top_origin_of(top_origin, origin)
    parsed = parse_creation_options(origin, options)
    options_json = _options_json(options)

    def work(key: KeyHandle, stop: threading.Event) -> dict[str, Any]:
        interaction = HostInteraction(key.id, on_event, pin_provider)
        try:
            with fido2_client(key, origin, interaction, stop, top) as client:
                response = _asking_again_after_wrong_pins(
                    lambda: client.make_credential(_creation_for(client.info, parsed), event=stop),
                    client, interaction, key, stop, creating=True)
        except Exception as exc:
            error = to_fido_error(exc, key, creating=True)
            if isinstance(error, CredentialExcluded) and not stop.is_set() and not interaction.touch_asked:
                _wait_for_a_touch(key, origin, interaction, stop)
            raise error from exc
        result = _json(response)
        finish_registration(result, options_json, attestation_allowed=attestation_allowed)
        result["response"]["transports"] = [TRANSPORT_NAMES.get(key.transport, key.transport)]
        result["authenticatorAttachment"] = "cross-platform"
        result["clientExtensionResults"] = _clean_extension_results(result.get("clientExtensionResults") or {})
        return result

    _key, result = first_touched(keys, work, cancel=cancel, timeout=_timeout(parsed), on_event=on_event,
                                 to_fido_error=lambda exc, key: to_fido_error(exc, key, creating=True))
    return result


# ---- get ----------------------------------------------------------------------------------------------------
def parse_request_options(origin: str, options: Any) -> tuple[PublicKeyCredentialRequestOptions, str | None]:
    data = _options_json(options)
    data.setdefault("rpId", host_of(origin))
    if data["rpId"] is None:
        data["rpId"] = host_of(origin)
    check_rp_id(data["rpId"], origin)
    extensions = data.get("extensions")
    app_id = None
    if isinstance(extensions, Mapping) and extensions.get("appid") is not None:
        app_id = check_app_id(extensions["appid"], origin)
    try:
        return PublicKeyCredentialRequestOptions.from_dict(data), app_id
    except (TypeError, ValueError, KeyError) as exc:
        raise FidoBadRequest(f"malformed request options: {exc}") from None


def _request_for(info: Any, options: PublicKeyCredentialRequestOptions) -> PublicKeyCredentialRequestOptions:
    if options.user_verification in (None, UserVerificationRequirement.PREFERRED) and not _uv_configured(info):
        return dataclasses.replace(options, user_verification=UserVerificationRequirement.DISCOURAGED)
    return options


def get(origin: str, options: Any, keys: Sequence[KeyHandle], *, on_event: EventSink = no_events,
        pin_provider: PinProvider | None = None, cancel: threading.Event | None = None,
        top_origin: str | None = None) -> dict[str, Any]:
    """navigator.credentials.get for ``origin`` → AuthenticationResponseJSON.

    With the ``appid`` extension, a key that holds none of the credentials under the rpId is asked again
    under the appId (the U2F application parameter), as browsers do; the result then says ``appid: true``.
    """
    origin = checked_origin(origin)
    top = top_origin_of(top_origin, origin)
    parsed, app_id = parse_request_options(origin, options)

    def work(key: KeyHandle, stop: threading.Event) -> dict[str, Any]:
        interaction = HostInteraction(key.id, on_event, pin_provider)
        try:
            with fido2_client(key, origin, interaction, stop, top) as client:
                selection = _asking_again_after_wrong_pins(
                    lambda: client.get_assertion(_request_for(client.info, parsed), event=stop),
                    client, interaction, key, stop, creating=False)
                result = _json(selection.get_response(0))
        except Exception as exc:
            error = to_fido_error(exc, key, creating=False)
            if not isinstance(error, NoCredential) or stop.is_set():
                raise error from exc
            try:
                if app_id is None:
                    raise error from exc
                with key_in_use(key, stop, lambda: on_event("fido.key_busy", {"device": key.id})):
                    result = _assert_under_app_id(key, origin, app_id, parsed, stop, on_event, top)
            except NoCredential:
                if not stop.is_set() and not interaction.touch_asked:
                    _wait_for_a_touch(key, origin, interaction, stop)
                raise
        result["authenticatorAttachment"] = "cross-platform"
        extension_results = _clean_extension_results(result.get("clientExtensionResults") or {})
        if app_id is not None:
            extension_results.setdefault("appid", False)
        result["clientExtensionResults"] = extension_results
        return result

    _key, result = first_touched(keys, work, cancel=cancel, timeout=_timeout(parsed), on_event=on_event,
                                 to_fido_error=lambda exc, key: to_fido_error(exc, key, creating=False))
    return result


MAX_PIN_ATTEMPTS = 8  # CTAP2 blocks a PIN after 8 wrong ones: a request never asks more often than that


def _asking_again_after_wrong_pins(ceremony: Any, client: Fido2Client, interaction: HostInteraction,
                                   key: KeyHandle, stop: threading.Event, *, creating: bool) -> Any:
    """Run ``ceremony``; after a wrong PIN, ask again (with the tries the key has left) instead of failing,
    as browsers do. The key's own blocking (PIN_BLOCKED, PIN_AUTH_BLOCKED) ends it."""
    for _ in range(MAX_PIN_ATTEMPTS):
        try:
            return ceremony()
        except Exception as exc:
            if stop.is_set() or not isinstance(to_fido_error(exc, key, creating=creating), PinInvalid):
                raise
            interaction.pin_was_wrong(_pin_retries(client))
    return ceremony()


def _pin_retries(client: Fido2Client) -> int | None:
    """The PIN tries the key has left (CTAP2 getPinRetries), or None when it cannot say."""
    ctap2 = getattr(getattr(client, "_backend", None), "ctap2", None)
    if ctap2 is None:
        return None
    try:
        from fido2.ctap2.pin import ClientPin

        return int(ClientPin(ctap2).get_pin_retries()[0])
    except Exception:
        return None


def _wait_for_a_touch(key: KeyHandle, origin: str, interaction: HostInteraction, stop: threading.Event) -> None:
    """Block until the user touches ``key`` (CTAP2 authenticatorSelection, or a U2F dummy registration), or
    ``stop`` is set: a key's "no credential" or "already registered" is told to the page only after that,
    so neither its timing nor its arrival says which credential ids the key holds."""
    with fido2_client(key, origin, interaction, stop) as client:
        client.selection(event=stop)


def _assert_under_app_id(key: KeyHandle, origin: str, app_id: str, options: PublicKeyCredentialRequestOptions,
                         stop: threading.Event, on_event: EventSink, top_origin: str | None = None) -> dict[str, Any]:
    """The assertion a browser makes for the ``appid`` extension: rpIdHash = SHA-256(appId)."""
    framed = {} if top_origin is None else {"cross_origin": True, "topOrigin": top_origin}
    client_data = CollectedClientData.create(type=CollectedClientData.TYPE.GET, challenge=options.challenge,
                                             origin=origin, **framed)
    app_param = hashlib.sha256(app_id.encode()).digest()
    allowed = [c.id for c in options.allow_credentials or []]
    if not allowed:
        raise NoCredential("the appid extension needs allowCredentials (U2F key handles)")
    device = key.device()
    interaction = HostInteraction(key.id, on_event, None)
    if device.capabilities & CAPABILITY.CBOR:
        # A CTAP2 key hashes the rpId it is given: send the appId itself (what browsers do).
        try:
            assertion = Ctap2(device).get_assertion(
                app_id, client_data.hash, [{"type": "public-key", "id": c} for c in allowed],
                event=stop, on_keepalive=lambda status: interaction.prompt_up())
        except Exception as exc:
            raise to_fido_error(exc, key, creating=False) from exc
        credential_id = assertion.credential["id"]
        auth_data, signature = bytes(assertion.auth_data), assertion.signature
    else:
        ctap1 = Ctap1(device)
        mine = [h for h in allowed if _u2f_handle_is_mine(ctap1, app_param, h)]
        if not mine:
            raise NoCredential("this key holds none of the U2F key handles under the appid")
        signed = poll_until_touched(lambda: ctap1.authenticate(client_data.hash, app_param, mine[0]), stop,
                                    interaction.prompt_up)
        credential_id = mine[0]
        auth_data = app_param + bytes([signed.user_presence]) + signed.counter.to_bytes(4, "big")
        signature = signed.signature
    encoded_id = websafe_encode(credential_id)
    return {"id": encoded_id, "rawId": encoded_id, "type": "public-key",
            "response": {"clientDataJSON": websafe_encode(bytes(client_data)),
                         "authenticatorData": websafe_encode(auth_data), "signature": websafe_encode(signature),
                         "userHandle": None},
            "clientExtensionResults": {"appid": True}}


def _u2f_handle_is_mine(ctap1: Ctap1, app_param: bytes, key_handle: bytes) -> bool:
    from fido2.ctap1 import APDU, ApduError

    try:
        ctap1.authenticate(b"\0" * 32, app_param, key_handle, check_only=True)
    except ApduError as exc:
        return exc.code == APDU.USE_NOT_SATISFIED
    return False


