"""The software authenticator's CTAP2 behaviour, driven by python-fido2's Ctap2 / ClientPin over each framing."""

from __future__ import annotations

import hashlib

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import ClientPin, Ctap2
from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2

from native_host.fido.softkey.presence import RefusePresence

CDH = hashlib.sha256(b"client data").digest()
RP = {"id": "example.com", "name": "Example"}
ES256 = [{"type": "public-key", "alg": -7}]


def _user(n: int = 1) -> dict:
    return {"id": bytes([n]) * 8, "name": f"user{n}", "displayName": f"User {n}"}


@pytest.mark.parametrize("protocol", [PinProtocolV1, PinProtocolV2], ids=["pin-v1", "pin-v2"])
def test_pin_token_from_either_protocol_authorizes_make_credential(make_key, protocol):
    key, _auth = make_key()
    ctap2 = Ctap2(key.device())
    client_pin = ClientPin(ctap2, protocol())
    client_pin.set_pin("123456")
    token = client_pin.get_pin_token("123456", ClientPin.PERMISSION.MAKE_CREDENTIAL, "example.com")
    response = ctap2.make_credential(CDH, RP, _user(), ES256, options={"rk": True},
                                     pin_uv_param=client_pin.protocol.authenticate(token, CDH),
                                     pin_uv_protocol=protocol.VERSION)
    assert response.auth_data.is_user_verified()
    assert ctap2.get_info().options["clientPin"] is True


def test_wrong_pin_decrements_retries_and_three_in_a_row_block_until_power_cycle(make_key):
    key, _auth = make_key()
    client_pin = ClientPin(Ctap2(key.device()))
    client_pin.set_pin("123456")
    for _ in range(2):
        with pytest.raises(CtapError) as caught:
            client_pin.get_pin_token("000000")
        assert caught.value.code == CtapError.ERR.PIN_INVALID
    with pytest.raises(CtapError) as caught:
        client_pin.get_pin_token("000000")
    assert caught.value.code == CtapError.ERR.PIN_AUTH_BLOCKED
    assert client_pin.get_pin_retries()[0] == 5


def test_pin_shorter_than_four_characters_is_refused(make_key):
    key, auth = make_key()
    ctap2 = Ctap2(key.device())
    client_pin = ClientPin(ctap2)  # python-fido2 itself refuses short PINs: build the request by hand
    key_agreement, shared_secret = client_pin._get_shared_secret()
    new_pin_enc = client_pin.protocol.encrypt(shared_secret, b"123".ljust(64, b"\0"))
    with pytest.raises(CtapError) as caught:
        ctap2.client_pin(client_pin.protocol.VERSION, ClientPin.CMD.SET_PIN, key_agreement=key_agreement,
                         new_pin_enc=new_pin_enc,
                         pin_uv_param=client_pin.protocol.authenticate(shared_secret, new_pin_enc))
    assert caught.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    assert auth.store.pin_hash is None


def test_resident_credential_requires_the_pin_once_one_is_set(make_key):
    key, _ = make_key()
    ctap2 = Ctap2(key.device())
    ClientPin(ctap2).set_pin("123456")
    with pytest.raises(CtapError) as caught:
        ctap2.make_credential(CDH, RP, _user(), ES256, options={"rk": True})
    assert caught.value.code == CtapError.ERR.PUAT_REQUIRED


def test_resident_credentials_are_found_without_an_allow_list_newest_first(make_key):
    key, _ = make_key()
    ctap2 = Ctap2(key.device())
    for n in (1, 2):
        ctap2.make_credential(CDH, RP, _user(n), ES256, options={"rk": True})
    assertions = ctap2.get_assertions("example.com", CDH)
    assert [a.user["id"] for a in assertions] == [_user(2)["id"], _user(1)["id"]]
    assert "name" not in assertions[0].user  # no UV: only the user handle is revealed


def test_cred_protect_uv_required_hides_the_credential_without_uv(make_key):
    key, _ = make_key()
    ctap2 = Ctap2(key.device())
    made = ctap2.make_credential(CDH, RP, _user(), ES256, extensions={"credProtect": 3})
    assert made.auth_data.extensions == {"credProtect": 3}
    credential_id = made.auth_data.credential_data.credential_id
    with pytest.raises(CtapError) as caught:
        ctap2.get_assertion("example.com", CDH, [{"type": "public-key", "id": credential_id}])
    assert caught.value.code == CtapError.ERR.NO_CREDENTIALS


def test_without_a_pin_the_key_reports_user_present_but_never_user_verified(make_key):
    key, _ = make_key()
    ctap2 = Ctap2(key.device())
    for resident in (False, True):
        made = ctap2.make_credential(CDH, RP, _user(2 if resident else 1), ES256, options={"rk": resident})
        allow = [{"type": "public-key", "id": made.auth_data.credential_data.credential_id}]
        asserted = ctap2.get_assertion("example.com", CDH, allow)
        for what, auth_data in (("makeCredential", made.auth_data), ("getAssertion", asserted.auth_data)):
            assert (auth_data.is_user_present(), auth_data.is_user_verified()) == (True, False), \
                f"{what} (resident: {resident}): UP/UV flags {auth_data.flags:#04x}"


def test_a_silent_assertion_asks_for_no_touch_and_has_user_presence_clear(make_key):
    key, auth = make_key()
    ctap2 = Ctap2(key.device())
    made = ctap2.make_credential(CDH, RP, _user(), ES256)
    auth.presence = RefusePresence()  # any touch asked for from here on is refused
    allow = [{"type": "public-key", "id": made.auth_data.credential_data.credential_id}]
    silent = ctap2.get_assertion("example.com", CDH, allow, options={"up": False})
    assert (silent.auth_data.is_user_present(), silent.auth_data.is_user_verified()) == (False, False), \
        f"flags {silent.auth_data.flags:#04x}"


def test_user_refusing_presence_is_operation_denied(make_key):
    key, _ = make_key(presence=RefusePresence())
    with pytest.raises(CtapError) as caught:
        Ctap2(key.device()).make_credential(CDH, RP, _user(), ES256)
    assert caught.value.code == CtapError.ERR.OPERATION_DENIED


def test_reset_forgets_credentials_and_pin(make_key):
    key, auth = make_key()
    ctap2 = Ctap2(key.device())
    ClientPin(ctap2).set_pin("123456")
    ctap2.make_credential(CDH, {"id": "other.test", "name": "x"}, _user(), ES256)
    ctap2.reset()
    assert auth.store.credentials == {} and auth.store.pin_hash is None
    assert ctap2.get_info().options["clientPin"] is False


def test_counter_is_global_and_strictly_increasing(make_key):
    key, _ = make_key()
    ctap2 = Ctap2(key.device())
    made = ctap2.make_credential(CDH, RP, _user(), ES256)
    allow = [{"type": "public-key", "id": made.auth_data.credential_data.credential_id}]
    counters = [made.auth_data.counter] + [ctap2.get_assertion("example.com", CDH, allow).auth_data.counter
                                           for _ in range(3)]
    assert counters == sorted(set(counters))


def test_garbage_cbor_is_refused_with_invalid_cbor(make_key):
    key, _ = make_key()
    assert key.device().call(0x10, b"\x01\xff\xff") == bytes([CtapError.ERR.INVALID_CBOR])


def test_packed_attestation_verifies_and_chains_to_the_keys_root(make_key):
    from cryptography import x509
    from fido2.attestation import AttestationType, PackedAttestation

    key, auth = make_key()
    made = Ctap2(key.device()).make_credential(CDH, RP, _user(), ES256)
    result = PackedAttestation().verify(made.att_stmt, made.auth_data, CDH)
    assert result.attestation_type == AttestationType.BASIC
    leaf = x509.load_der_x509_certificate(result.trust_path[0])
    leaf.verify_directly_issued_by(x509.load_der_x509_certificate(auth.store.attestation_root))
