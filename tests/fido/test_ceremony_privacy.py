"""What a page learns from a ceremony, kept to what a browser tells it: "no credential" and "already
registered" only after a touch, the key's attestation only when the site asked and the user agreed, and
the Level 3 JSON members of a registration. Through the real python-fido2 stack over each transport."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from fido2.server import Fido2Server
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import AttestationObject

from native_host.fido.ceremonies import webauthn
from native_host.fido.ceremonies.registration import without_attestation
from native_host.fido.errors import CredentialExcluded, NoCredential
from native_host.fido.softkey.presence import ManualTouch
from tests.fido.helpers import ORIGIN

USER = {"id": b"user-1", "name": "alice", "displayName": "Alice"}


def _outcome_after_touch(presence: ManualTouch, call: Callable[[], Any]) -> BaseException | Any:
    """Run ``call`` on a thread; check it waits for a touch (and has not answered), then touch the key."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        for _ in range(1000):
            if presence.requests:
                break
            threading.Event().wait(0.01)
        assert presence.requests, "the key was never asked for a touch"
        assert thread.is_alive() and not outcome, f"answered before the touch: {outcome}"
    finally:
        presence.touch()
        thread.join(15)
    assert len(outcome) == 1
    return outcome[0]


def _registered(server: Fido2Server, key) -> Any:
    options, state = server.register_begin(USER)
    return server.register_complete(state, webauthn.create(ORIGIN, dict(options.public_key), [key])).credential_data


def test_no_credential_is_told_only_after_the_key_is_touched(make_key, server):
    presence = ManualTouch()
    key, _auth = make_key(presence=presence)
    options = {"challenge": websafe_encode(b"c" * 32), "rpId": "example.com",
               "allowCredentials": [{"type": "public-key", "id": websafe_encode(b"someone-else" * 4)}]}
    result = _outcome_after_touch(presence, lambda: webauthn.get(ORIGIN, options, [key]))
    assert isinstance(result, NoCredential)
    assert [r.purpose for r in presence.requests] == ["selection"]


def test_a_known_credential_waits_for_the_same_touch(make_key, server):
    # The other half of "timing does not tell": a key holding the credential also answers only after a touch.
    presence = ManualTouch()
    key, _auth = make_key(presence=presence)
    presence.touch()  # the registration's own touch
    credential = _registered(server, key)
    presence.requests.clear()
    options, state = server.authenticate_begin([credential])
    assertion = _outcome_after_touch(presence, lambda: webauthn.get(ORIGIN, dict(options.public_key), [key]))
    server.authenticate_complete(state, [credential], assertion)
    assert [r.purpose for r in presence.requests] == ["getAssertion"]


def test_an_excluded_key_is_told_only_after_the_key_is_touched(make_key, server):
    presence = ManualTouch()
    key, _auth = make_key(presence=presence)
    presence.touch()
    credential = _registered(server, key)
    presence.requests.clear()
    options, _ = server.register_begin(USER, credentials=[credential])
    result = _outcome_after_touch(presence, lambda: webauthn.create(ORIGIN, dict(options.public_key), [key]))
    assert isinstance(result, CredentialExcluded)


def _attestation(response: dict[str, Any]) -> AttestationObject:
    return AttestationObject(websafe_decode(response["response"]["attestationObject"]))


@pytest.mark.parametrize("conveyance", [None, "none"])
def test_attestation_none_gives_format_none_and_a_zero_aaguid(make_key, server, conveyance):
    key, _auth = make_key()
    options, state = server.register_begin(USER)
    json_options = dict(options.public_key)
    json_options.pop("attestation", None)
    if conveyance:
        json_options["attestation"] = conveyance
    response = webauthn.create(ORIGIN, json_options, [key], attestation_allowed=True)
    attestation = _attestation(response)
    assert attestation.fmt == "none" and attestation.att_stmt == {}
    assert bytes(attestation.auth_data.credential_data.aaguid) == bytes(16)
    assert server.register_complete(state, response).credential_data is not None


def test_direct_attestation_is_sent_when_the_user_agreed(make_key):
    key, _auth = make_key()
    server = Fido2Server({"id": "example.com", "name": "Example"}, attestation="direct")
    options, state = server.register_begin(USER)
    response = webauthn.create(ORIGIN, dict(options.public_key), [key], attestation_allowed=True)
    attestation = _attestation(response)
    assert attestation.fmt == "packed" and "x5c" in attestation.att_stmt
    assert bytes(attestation.auth_data.credential_data.aaguid) != bytes(16)
    server.register_complete(state, response)


def test_direct_attestation_is_withheld_when_the_user_did_not_agree(make_key):
    key, _auth = make_key()
    server = Fido2Server({"id": "example.com", "name": "Example"}, attestation="direct")
    options, state = server.register_begin(USER)
    response = webauthn.create(ORIGIN, dict(options.public_key), [key])  # the default: not allowed
    assert _attestation(response).fmt == "none"
    assert server.register_complete(state, response).credential_data is not None


def test_without_attestation_keeps_the_credential_and_its_key(make_key, server):
    key, _auth = make_key()
    options, _ = server.register_begin(USER, user_verification="discouraged")
    json_options = {**dict(options.public_key), "attestation": "direct"}
    original = websafe_decode(webauthn.create(ORIGIN, json_options, [key], attestation_allowed=True)
                              ["response"]["attestationObject"])
    stripped = AttestationObject(without_attestation(original))
    before = AttestationObject(original).auth_data
    assert stripped.auth_data.credential_data.credential_id == before.credential_data.credential_id
    assert stripped.auth_data.credential_data.public_key == before.credential_data.public_key
    assert (stripped.auth_data.flags, stripped.auth_data.counter) == (before.flags, before.counter)


def test_a_registration_carries_the_level_3_members(make_key, server):
    key, _auth = make_key()
    options, _ = server.register_begin(USER)
    response = webauthn.create(ORIGIN, dict(options.public_key), [key])["response"]
    auth_data = _attestation({"response": response}).auth_data
    assert websafe_decode(response["authenticatorData"]) == bytes(auth_data)
    assert response["publicKeyAlgorithm"] == -7
    spki = serialization.load_der_public_key(websafe_decode(response["publicKey"]))
    cose = auth_data.credential_data.public_key
    numbers = spki.public_numbers()  # type: ignore[union-attr]
    assert (numbers.x, numbers.y) == (int.from_bytes(cose[-2], "big"), int.from_bytes(cose[-3], "big"))


def test_a_request_from_a_frame_of_another_site_says_so_in_the_client_data(make_key, server):
    import json

    key, _auth = make_key()
    options, state = server.register_begin(USER)
    response = webauthn.create(ORIGIN, dict(options.public_key), [key], top_origin="https://evil.test")
    client_data = json.loads(websafe_decode(response["response"]["clientDataJSON"]))
    assert (client_data["crossOrigin"], client_data["topOrigin"]) == (True, "https://evil.test")
    server.register_complete(state, response)  # still the tracker's own registration, for its challenge


def test_the_same_origin_on_top_is_not_cross_origin(make_key, server):
    import json

    key, _auth = make_key()
    options, _ = server.register_begin(USER)
    response = webauthn.create(ORIGIN, dict(options.public_key), [key], top_origin=ORIGIN + "/")
    client_data = json.loads(websafe_decode(response["response"]["clientDataJSON"]))
    assert client_data["crossOrigin"] is False and "topOrigin" not in client_data
