"""The legacy FIDO U2F JavaScript API 1.1 (``u2f.register`` / ``u2f.sign``) over CTAP1, for old tracker pages.

In and out are the API's own objects (websafe base64 without padding). The appId must be https and on
the same site as the browser-reported origin (the rule browsers apply to WebAuthn's ``appid``); a facet
list is never fetched. Each registered key may carry its own appId (1.1), checked by the same rule, and its
own challenge (the 1.0 API's SignRequest: a server issues one challenge per registered key): the reply
carries the clientData of the request whose key answered.

Like a browser, a key that holds none of the handles (or is registered already) is reported only after
the user has touched it: a page learns nothing about which keys are present without the user's act.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from fido2.ctap1 import APDU, ApduError, Ctap1
from fido2.hid import CAPABILITY
from fido2.utils import websafe_decode, websafe_encode

from ..discovery import KeyHandle
from ..errors import CredentialExcluded, FidoBadRequest, FidoError, NoCredential
from .failures import to_fido_error
from .interaction import EventSink, HostInteraction, no_events
from .key_lock import key_in_use
from .race import first_touched
from .rules import check_app_id, checked_origin
from .u2f_polling import poll_until_touched

U2F_VERSION = "U2F_V2"
DEFAULT_TIMEOUT = 30.0  # the U2F API's customary default (opt_timeoutSeconds)


def _client_data(typ: str, challenge: str, origin: str) -> bytes:
    return json.dumps({"typ": typ, "challenge": challenge, "origin": origin}, separators=(",", ":")).encode()


def _timeout(timeout_seconds: Any) -> float:
    if timeout_seconds is None:
        return DEFAULT_TIMEOUT
    if not isinstance(timeout_seconds, (int, float)) or isinstance(timeout_seconds, bool) or timeout_seconds <= 0:
        raise FidoBadRequest("timeoutSeconds must be a positive number")
    return min(float(timeout_seconds), 600.0)


def _registered_keys(registered_keys: Any, app_id: str, origin: str) -> list[tuple[bytes, str]]:
    """(key handle, appId) of each U2F_V2 registered key; other versions are skipped, as browsers did."""
    return [(handle, handle_app_id) for handle, handle_app_id, _ in _sign_requests(registered_keys, app_id, None,
                                                                                     origin)]


def _sign_requests(registered_keys: Any, app_id: str, challenge: str | None,
                   origin: str) -> list[tuple[bytes, str, str | None]]:
    """(key handle, appId, challenge) of each U2F_V2 registered key: its own appId and challenge when it has
    them (1.0 SignRequests), else the call's."""
    if registered_keys is None:
        return []
    if not isinstance(registered_keys, Sequence) or isinstance(registered_keys, (str, bytes)):
        raise FidoBadRequest("registeredKeys must be a list")
    handles = []
    for entry in registered_keys:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("keyHandle"), str):
            raise FidoBadRequest("each registered key needs a keyHandle string")
        if entry.get("version", U2F_VERSION) != U2F_VERSION:
            continue
        try:
            handle = websafe_decode(entry["keyHandle"])
        except ValueError:
            raise FidoBadRequest("a keyHandle is not websafe base64") from None
        if not 0 < len(handle) <= 255:
            raise FidoBadRequest("a keyHandle must be 1..255 bytes")
        own_challenge = entry.get("challenge", challenge)
        if own_challenge is not None and (not isinstance(own_challenge, str) or not own_challenge):
            raise FidoBadRequest("a registered key's challenge must be a websafe base64 string")
        handles.append((handle, check_app_id(entry.get("appId"), origin) if entry.get("appId") else app_id,
                        own_challenge))
    return handles


def _ctap1(key: KeyHandle) -> Ctap1:
    device = key.device()
    if device.capabilities & CAPABILITY.NMSG and type(device).__name__ != "CtapPcscDevice":
        raise FidoError(f"{key.name} does not speak U2F", code="fido_unsupported")
    return Ctap1(device)


def _is_mine(ctap1: Ctap1, app_id: str, handle: bytes) -> bool:
    try:
        ctap1.authenticate(b"\0" * 32, hashlib.sha256(app_id.encode()).digest(), handle, check_only=True)
    except ApduError as exc:
        return exc.code == APDU.USE_NOT_SATISFIED
    return False


def register(origin: str, app_id: Any, register_requests: Any, registered_keys: Any, keys: Sequence[KeyHandle], *,
             timeout_seconds: Any = None, on_event: EventSink = no_events,
             cancel: threading.Event | None = None) -> dict[str, Any]:
    """``u2f.register`` → ``{version, registrationData, clientData}``."""
    origin = checked_origin(origin)
    app_id = check_app_id(app_id, origin)
    if not isinstance(register_requests, Sequence) or isinstance(register_requests, (str, bytes)):
        raise FidoBadRequest("registerRequests must be a list")
    request = next((r for r in register_requests if isinstance(r, Mapping) and r.get("version") == U2F_VERSION
                    and isinstance(r.get("challenge"), str)), None)
    if request is None:
        raise FidoBadRequest("no U2F_V2 register request with a challenge string")
    request_app_id = check_app_id(request.get("appId"), origin) if request.get("appId") else app_id
    excluded = _registered_keys(registered_keys, app_id, origin)
    client_data = _client_data("navigator.id.finishEnrollment", request["challenge"], origin)
    app_param = hashlib.sha256(request_app_id.encode()).digest()

    def work(key: KeyHandle, stop: threading.Event) -> dict[str, Any]:
        interaction = HostInteraction(key.id, on_event, None)
        with key_in_use(key, stop, lambda: on_event("fido.key_busy", {"device": key.id})):
            return _register_on(key, interaction, stop)

    def _register_on(key: KeyHandle, interaction: HostInteraction, stop: threading.Event) -> dict[str, Any]:
        ctap1 = _ctap1(key)
        if any(_is_mine(ctap1, handle_app_id, handle) for handle, handle_app_id in excluded):
            # Like a browser: the user touches the key, then learns it is registered already.
            poll_until_touched(lambda: ctap1.register(b"\0" * 32, b"\0" * 32), stop, interaction.prompt_up)
            raise CredentialExcluded("this key is already registered for the site")
        registration = poll_until_touched(lambda: ctap1.register(hashlib.sha256(client_data).digest(), app_param),
                                          stop, interaction.prompt_up)
        return {"version": U2F_VERSION, "registrationData": websafe_encode(bytes(registration)),
                "clientData": websafe_encode(client_data)}

    _key, result = first_touched(keys, work, cancel=cancel, timeout=_timeout(timeout_seconds), on_event=on_event,
                                 to_fido_error=lambda exc, key: to_fido_error(exc, key, creating=True))
    return result


def sign(origin: str, app_id: Any, challenge: Any, registered_keys: Any, keys: Sequence[KeyHandle], *,
         timeout_seconds: Any = None, on_event: EventSink = no_events,
         cancel: threading.Event | None = None) -> dict[str, Any]:
    """``u2f.sign`` → ``{keyHandle, signatureData, clientData}``.

    ``challenge`` is the call's (1.1); a registered key with a ``challenge`` of its own (1.0) is signed with
    that one, and its own ``appId`` likewise. ``challenge`` may be None when every key has its own.
    """
    origin = checked_origin(origin)
    app_id = check_app_id(app_id, origin)
    if challenge is not None and (not isinstance(challenge, str) or not challenge):
        raise FidoBadRequest("challenge must be a websafe base64 string")
    requests = _sign_requests(registered_keys, app_id, challenge, origin)
    if not requests:
        raise FidoBadRequest("registeredKeys holds no U2F_V2 key handle")
    if any(own is None for _, _, own in requests):
        raise FidoBadRequest("challenge is required (for the registered keys without a challenge of their own)")

    def work(key: KeyHandle, stop: threading.Event) -> dict[str, Any]:
        interaction = HostInteraction(key.id, on_event, None)
        with key_in_use(key, stop, lambda: on_event("fido.key_busy", {"device": key.id})):
            return _sign_on(key, interaction, stop)

    def _sign_on(key: KeyHandle, interaction: HostInteraction, stop: threading.Event) -> dict[str, Any]:
        ctap1 = _ctap1(key)
        for handle, handle_app_id, handle_challenge in requests:
            if _is_mine(ctap1, handle_app_id, handle):
                client_data = _client_data("navigator.id.getAssertion", str(handle_challenge), origin)
                client_param = hashlib.sha256(client_data).digest()
                app_param = hashlib.sha256(handle_app_id.encode()).digest()
                signed = poll_until_touched(lambda h=handle, a=app_param, c=client_param: ctap1.authenticate(c, a, h),
                                            stop, interaction.prompt_up)
                return {"keyHandle": websafe_encode(handle), "signatureData": websafe_encode(bytes(signed)),
                        "clientData": websafe_encode(client_data)}
        # Like a browser: the user touches the key (a dummy registration), then learns it holds none of them.
        poll_until_touched(lambda: ctap1.register(b"\0" * 32, b"\0" * 32), stop, interaction.prompt_up)
        raise NoCredential("this key holds none of the registered key handles")

    _key, result = first_touched(keys, work, cancel=cancel, timeout=_timeout(timeout_seconds), on_event=on_event,
                                 to_fido_error=lambda exc, key: to_fido_error(exc, key, creating=False))
    return result
