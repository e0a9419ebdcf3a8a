"""WebAuthn create/get through the real python-fido2 client over HID packets, NFC APDUs and BLE frames,
checked by python-fido2's Fido2Server."""

from __future__ import annotations

import json
import threading

import pytest
from fido2.server import Fido2Server
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import AttestedCredentialData, AuthenticatorData

from native_host.fido.ceremonies import webauthn
from native_host.fido.errors import (
    Cancelled,
    CredentialExcluded,
    NoCredential,
    OriginRefused,
    PinAuthBlocked,
    PinBlocked,
    PinRequired,
)
from native_host.fido.softkey.presence import NeverTouched
from tests.fido.helpers import ORIGIN, RP_ID

USER = {"id": b"user-1", "name": "alice", "displayName": "Alice"}


def register(server: Fido2Server, key, **kwargs) -> tuple[AttestedCredentialData, dict]:
    options, state = server.register_begin(USER, **kwargs)
    response = webauthn.create(ORIGIN, dict(options.public_key), [key])
    return server.register_complete(state, response).credential_data, response


def test_register_then_authenticate_verifies_with_the_server(make_key, server):
    key, _auth = make_key()
    credential, registration = register(server, key)
    options, state = server.authenticate_begin([credential])
    assertion = webauthn.get(ORIGIN, dict(options.public_key), [key])
    server.authenticate_complete(state, [credential], assertion)
    assert registration["authenticatorAttachment"] == "cross-platform"
    assert registration["response"]["transports"] == [key.transport]
    client_data = json.loads(websafe_decode(assertion["response"]["clientDataJSON"]))
    assert client_data["origin"] == ORIGIN and client_data["type"] == "webauthn.get"


def test_sign_counter_increases_with_each_assertion(make_key, server):
    key, _auth = make_key()
    credential, _ = register(server, key)
    counters = []
    for _ in range(2):
        options, _state = server.authenticate_begin([credential])
        assertion = webauthn.get(ORIGIN, dict(options.public_key), [key])
        counters.append(AuthenticatorData(websafe_decode(assertion["response"]["authenticatorData"])).counter)
    assert counters[1] > counters[0]


def test_excluded_credential_is_refused_as_invalid_state(make_key, server):
    key, _auth = make_key()
    credential, _ = register(server, key)
    options, _state = server.register_begin(USER, credentials=[credential])
    with pytest.raises(CredentialExcluded) as caught:
        webauthn.create(ORIGIN, dict(options.public_key), [key])
    assert caught.value.dom_name == "InvalidStateError"


def test_rp_id_of_another_site_is_refused_before_touching_a_key(make_key):
    key, auth = make_key()
    options, _ = Fido2Server({"id": "evil.test", "name": "Evil"}).register_begin(USER)
    with pytest.raises(OriginRefused, match=r"'evil\.test' is not https://jira\.example\.com's own domain"):
        webauthn.create(ORIGIN, dict(options.public_key), [key])
    assert auth.store.credentials == {}


def test_public_suffix_as_rp_id_is_refused(make_key):
    key, _ = make_key()
    options, _ = Fido2Server({"id": "co.uk", "name": "Suffix"}).register_begin(USER)
    with pytest.raises(OriginRefused, match="registrable suffix"):
        webauthn.create("https://jira.example.co.uk", dict(options.public_key), [key])


def test_plain_http_origin_is_refused_except_localhost(make_key, server):
    key, _ = make_key()
    options, _ = server.register_begin(USER)
    with pytest.raises(OriginRefused, match="need https"):
        webauthn.create("http://jira.example.com", dict(options.public_key), [key])
    local, _ = Fido2Server({"id": "localhost", "name": "Mock"}).register_begin(USER)
    assert webauthn.create("http://localhost:8080", dict(local.public_key), [key])["type"] == "public-key"


def test_opaque_origin_is_refused(make_key, server):
    key, _ = make_key()
    options, _ = server.register_begin(USER)
    with pytest.raises(OriginRefused, match="opaque origin"):
        webauthn.create("null", dict(options.public_key), [key])


def test_assertion_for_unknown_credential_is_no_credential(make_key, server):
    key, _ = make_key()
    other_key, _ = make_key(name="other")
    credential, _ = register(server, other_key)
    options, _ = server.authenticate_begin([credential])
    with pytest.raises(NoCredential):
        webauthn.get(ORIGIN, dict(options.public_key), [key])


def test_cancel_while_waiting_for_touch_ends_with_abort(make_key, server):
    key, auth = make_key(presence=NeverTouched())
    options, _ = server.register_begin(USER)
    cancel = threading.Event()
    events: list[str] = []

    def on_event(name: str, details: dict) -> None:
        events.append(name)
        if name == "fido.touch":
            cancel.set()  # the page aborts once the key asks for a touch

    with pytest.raises(Cancelled) as caught:
        webauthn.create(ORIGIN, dict(options.public_key), [key], on_event=on_event, cancel=cancel)
    assert caught.value.dom_name == "AbortError"
    assert "fido.touch" in events
    assert auth.store.credentials == {}


def test_pin_protected_key_registers_with_the_pin_from_the_extension(make_key, server):
    key, _auth = make_key()
    from fido2.ctap2 import ClientPin, Ctap2

    ClientPin(Ctap2(key.device())).set_pin("4321")
    asked: list[tuple[str, str | None]] = []

    def pin_provider(key_id: str, rp_id: str | None) -> str:
        asked.append((key_id, rp_id))
        return "4321"

    options, state = server.register_begin(USER, user_verification="required")
    response = webauthn.create(ORIGIN, dict(options.public_key), [key], pin_provider=pin_provider)
    auth_data = server.register_complete(state, response)
    assert asked == [(key.id, RP_ID)]
    assert auth_data.credential_data is not None
    assert AuthenticatorData(_auth_data(response)).is_user_verified()


def test_an_assertion_without_the_pin_fails_a_relying_party_that_requires_user_verification(make_key, server):
    """A client that drops the site's userVerification: "required" gets a signature from a key without a PIN;
    its UV flag is clear, so the relying party (python-fido2's server, as the verifier runs it) refuses it."""
    key, _auth = make_key()
    credential, _ = register(server, key)
    options, state = server.authenticate_begin([credential], user_verification="required")
    asked = {**dict(options.public_key), "userVerification": "discouraged"}
    assertion = webauthn.get(ORIGIN, asked, [key])
    with pytest.raises(ValueError, match="User verification required"):
        server.authenticate_complete(state, [credential], assertion)


def _auth_data(response: dict) -> bytes:
    from fido2.webauthn import AttestationObject

    return bytes(AttestationObject(websafe_decode(response["response"]["attestationObject"])).auth_data)


def _key_with_pin(make_key, pin="4321"):
    key, auth = make_key()
    from fido2.ctap2 import ClientPin, Ctap2

    ClientPin(Ctap2(key.device())).set_pin(pin)
    return key, auth


def test_a_wrong_pin_is_asked_again_with_the_tries_left(make_key, server):
    key, auth = _key_with_pin(make_key)
    answers = iter(["0000", "4321"])
    events: list[tuple[str, dict]] = []
    options, state = server.register_begin(USER, user_verification="required")
    response = webauthn.create(ORIGIN, dict(options.public_key), [key], pin_provider=lambda k, r: next(answers),
                               on_event=lambda name, details: events.append((name, details)))
    assert server.register_complete(state, response).credential_data is not None
    asked = [details for name, details in events if name == "fido.pin_needed"]
    assert asked == [{"device": key.id, "rpId": RP_ID},
                     {"device": key.id, "rpId": RP_ID, "wrongPin": True, "retries": 7}]
    assert auth.store.pin_retries == 8  # a right PIN restores the count


def test_three_wrong_pins_in_a_row_end_with_remove_and_reinsert(make_key, server):
    key, auth = _key_with_pin(make_key)
    options, _ = server.register_begin(USER, user_verification="required")
    with pytest.raises(PinAuthBlocked, match="remove the key, insert it again"):
        webauthn.create(ORIGIN, dict(options.public_key), [key], pin_provider=lambda k, r: "0000")
    assert auth.store.pin_retries == 5
    assert auth.store.credentials == {}


def test_declining_after_a_wrong_pin_ends_the_request(make_key, server):
    key, auth = _key_with_pin(make_key)
    answers = iter(["0000", None])
    options, _ = server.register_begin(USER, user_verification="required")
    with pytest.raises(PinRequired):
        webauthn.create(ORIGIN, dict(options.public_key), [key], pin_provider=lambda k, r: next(answers))
    assert auth.store.pin_retries == 7


def test_a_blocked_pin_says_the_key_must_be_reset(make_key, server):
    key, auth = _key_with_pin(make_key)
    auth.store.pin_retries = 0
    options, _ = server.register_begin(USER, user_verification="required")
    with pytest.raises(PinBlocked, match="reset the key") as caught:
        webauthn.create(ORIGIN, dict(options.public_key), [key], pin_provider=lambda k, r: "4321")
    assert caught.value.code == "fido_pin_blocked"


def test_prf_gives_the_same_secret_for_the_same_salt(make_key, server):
    key, _ = make_key()
    options, state = server.register_begin(USER, extensions={"prf": {}})
    registration = webauthn.create(ORIGIN, dict(options.public_key), [key])
    assert registration["clientExtensionResults"]["prf"]["enabled"] is True
    credential = server.register_complete(state, registration).credential_data
    outputs = []
    for salt in (b"a" * 32, b"a" * 32, b"b" * 32):
        prf_input = {"prf": {"eval": {"first": websafe_encode(salt)}}}
        options, _ = server.authenticate_begin([credential], extensions=prf_input)
        result = webauthn.get(ORIGIN, dict(options.public_key), [key])
        prf = result["clientExtensionResults"]["prf"]["results"]
        assert "second" not in prf
        outputs.append(prf["first"])
    assert outputs[0] == outputs[1] != outputs[2]
