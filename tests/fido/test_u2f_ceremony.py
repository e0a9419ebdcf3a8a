"""The FIDO U2F JavaScript API 1.1 ceremonies (u2f.register / u2f.sign) over each transport's framing."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.ctap1 import RegistrationData, SignatureData
from fido2.utils import websafe_decode, websafe_encode

from native_host.fido.ceremonies import u2f
from native_host.fido.errors import CredentialExcluded, FidoBadRequest, NoCredential, OriginRefused
from tests.fido.helpers import ORIGIN

APP_ID = "https://example.com/app-id.json"


def _register(key, app_id=APP_ID, registered_keys=()):
    return u2f.register(ORIGIN, app_id, [{"version": "U2F_V2", "challenge": "cmVnaXN0ZXI"}], list(registered_keys),
                        [key])


def test_register_answers_registration_data_that_verifies(make_key):
    key, _auth = make_key()
    response = _register(key)
    client_data = websafe_decode(response["clientData"])
    assert json.loads(client_data) == {"typ": "navigator.id.finishEnrollment", "challenge": "cmVnaXN0ZXI",
                                       "origin": ORIGIN}
    registration = RegistrationData(websafe_decode(response["registrationData"]))
    registration.verify(hashlib.sha256(APP_ID.encode()).digest(), hashlib.sha256(client_data).digest())
    assert response["version"] == "U2F_V2"


def test_sign_answers_signature_data_that_verifies(make_key):
    key, _auth = make_key()
    registration = RegistrationData(websafe_decode(_register(key)["registrationData"]))
    handle = websafe_encode(registration.key_handle)
    response = u2f.sign(ORIGIN, APP_ID, "c2lnbg", [{"version": "U2F_V2", "keyHandle": handle}], [key])
    client_data = websafe_decode(response["clientData"])
    assert json.loads(client_data) == {"typ": "navigator.id.getAssertion", "challenge": "c2lnbg", "origin": ORIGIN}
    signature = SignatureData(websafe_decode(response["signatureData"]))
    signed = (hashlib.sha256(APP_ID.encode()).digest() + websafe_decode(response["signatureData"])[:5]
              + hashlib.sha256(client_data).digest())
    public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), registration.public_key)
    public_key.verify(signature.signature, signed, ec.ECDSA(hashes.SHA256()))
    assert response["keyHandle"] == handle and signature.user_presence == 1


def test_register_with_an_already_registered_key_is_device_ineligible(make_key):
    key, _auth = make_key()
    registration = RegistrationData(websafe_decode(_register(key)["registrationData"]))
    registered = [{"version": "U2F_V2", "keyHandle": websafe_encode(registration.key_handle)}]
    with pytest.raises(CredentialExcluded) as caught:
        _register(key, registered_keys=registered)
    assert caught.value.u2f_error_code == 4


def test_sign_with_an_unknown_key_handle_is_device_ineligible(make_key):
    key, _auth = make_key()
    with pytest.raises(NoCredential) as caught:
        u2f.sign(ORIGIN, APP_ID, "c2lnbg", [{"version": "U2F_V2", "keyHandle": websafe_encode(b"x" * 64)}], [key])
    assert caught.value.u2f_error_code == 4


def test_sign_under_another_app_id_than_registered_finds_nothing(make_key):
    key, _auth = make_key()
    registration = RegistrationData(websafe_decode(_register(key)["registrationData"]))
    handle = websafe_encode(registration.key_handle)
    with pytest.raises(NoCredential):
        u2f.sign(ORIGIN, "https://jira.example.com", "c2lnbg", [{"version": "U2F_V2", "keyHandle": handle}], [key])


def test_app_id_on_another_site_is_refused(make_key):
    key, auth = make_key()
    with pytest.raises(OriginRefused, match="not on the same site"):
        _register(key, app_id="https://evil.test/app-id.json")
    assert auth.store.credentials == {}


def test_http_app_id_is_refused(make_key):
    key, _auth = make_key()
    with pytest.raises(OriginRefused, match="must be https"):
        _register(key, app_id="http://example.com/app-id.json")


def test_missing_app_id_defaults_to_the_origin(make_key):
    key, _auth = make_key()
    response = _register(key, app_id=None)
    registration = RegistrationData(websafe_decode(response["registrationData"]))
    registration.verify(hashlib.sha256(ORIGIN.encode()).digest(),
                        hashlib.sha256(websafe_decode(response["clientData"])).digest())


def test_register_without_a_u2f_v2_request_is_a_bad_request(make_key):
    key, _auth = make_key()
    with pytest.raises(FidoBadRequest) as caught:
        u2f.register(ORIGIN, APP_ID, [{"version": "U2F_V3", "challenge": "x"}], [], [key])
    assert caught.value.u2f_error_code == 2


def test_sign_uses_the_challenge_and_app_id_of_the_key_that_answers(make_key):
    # U2F 1.0 servers issue one challenge per registered key: the first handle belongs to another key, so
    # the answer must carry the second request's challenge (and be signed under its appId).
    key, _auth = make_key()
    other_app_id = "https://example.com/other-app-id.json"
    registration = RegistrationData(websafe_decode(_register(key, app_id=other_app_id)["registrationData"]))
    requests = [
        {"version": "U2F_V2", "keyHandle": websafe_encode(b"y" * 64), "challenge": "Zmlyc3Q", "appId": APP_ID},
        {"version": "U2F_V2", "keyHandle": websafe_encode(registration.key_handle), "challenge": "c2Vjb25k",
         "appId": other_app_id},
    ]
    response = u2f.sign(ORIGIN, APP_ID, None, requests, [key])
    client_data = websafe_decode(response["clientData"])
    assert json.loads(client_data)["challenge"] == "c2Vjb25k"
    signature = SignatureData(websafe_decode(response["signatureData"]))
    signature.verify(hashlib.sha256(other_app_id.encode()).digest(), hashlib.sha256(client_data).digest(),
                     registration.public_key)


def test_sign_without_any_challenge_is_a_bad_request(make_key):
    key, _auth = make_key()
    with pytest.raises(FidoBadRequest, match="challenge is required"):
        u2f.sign(ORIGIN, APP_ID, None, [{"version": "U2F_V2", "keyHandle": websafe_encode(b"x" * 64)}], [key])


def test_sign_says_no_credential_only_after_the_key_is_touched(make_key):
    # A page must not learn which key handles a plugged-in key holds without the user's touch.
    import threading

    from native_host.fido.softkey.presence import ManualTouch

    presence = ManualTouch()
    key, _auth = make_key(presence=presence)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            u2f.sign(ORIGIN, APP_ID, "c2lnbg", [{"version": "U2F_V2", "keyHandle": websafe_encode(b"x" * 64)}],
                     [key], timeout_seconds=30)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        for _ in range(600):  # the key asks for a touch (a dummy registration) instead of answering
            if presence.requests:
                break
            threading.Event().wait(0.01)
        assert [r.purpose for r in presence.requests] == ["u2fRegister"]
        assert thread.is_alive() and not outcome
    finally:
        presence.touch()
        thread.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], NoCredential)
