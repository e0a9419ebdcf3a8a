"""The software authenticator's CTAPHID framing and APDU parsing (the test double must itself be right)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.soft_authenticator import SoftAuthenticator, open_device


@settings(max_examples=60)
@given(payload=st.binary(max_size=2000))
def test_ping_payloads_of_any_size_echo_through_the_hid_framing(payload):
    device, _ = open_device()
    assert device.ping(payload) == payload


def test_a_u2f_only_key_announces_no_cbor():
    from fido2.hid import CAPABILITY

    device, _ = open_device(SoftAuthenticator(ctap2=False))
    assert not CAPABILITY.CBOR.supported(device.capabilities)
    assert CAPABILITY.CBOR.supported(open_device()[0].capabilities)


@given(apdu=st.binary(max_size=300))
def test_arbitrary_apdus_get_a_status_word_and_never_raise(apdu):
    reply = SoftAuthenticator().handle_apdu(apdu)
    assert len(reply) >= 2


@given(request=st.binary(max_size=300))
def test_arbitrary_cbor_commands_get_a_status_byte(request):
    reply = SoftAuthenticator().handle_cbor(request)
    assert len(reply) >= 1


@given(params=st.dictionaries(st.integers(min_value=1, max_value=8),
                              st.one_of(st.integers(-(2**31), 2**31), st.text(max_size=5), st.binary(max_size=5),
                                        st.lists(st.integers(0, 9), max_size=3)), max_size=6),
       command=st.sampled_from([0x01, 0x02, 0x04]))
def test_make_credential_and_get_assertion_with_ill_typed_parameters_answer_an_error(params, command):
    from fido2 import cbor

    reply = SoftAuthenticator().handle_cbor(bytes([command]) + cbor.encode(params))
    assert reply[0] != 0x00 or command == 0x04
