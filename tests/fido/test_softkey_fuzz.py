"""Hostile input to the software key's parsers never crashes it: every request gets a status."""

from __future__ import annotations

import struct

from fido2 import cbor
from fido2.hid import CAPABILITY
from hypothesis import given, settings
from hypothesis import strategies as st

from native_host.fido.soft_transports.hid import SoftHidConnection, open_soft_hid_device
from native_host.fido.softkey.authenticator import SoftAuthenticator
from native_host.fido.softkey.presence import AlwaysPresent

cbor_values = st.recursive(
    st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(max_size=16)
    | st.binary(max_size=70),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.integers(-3, 12) | st.text(max_size=8), inner,
                                                                 max_size=6),
    max_leaves=25)


@given(st.binary(max_size=400))
def test_any_bytes_as_a_ctap2_request_get_one_status_byte_first(request):
    reply = SoftAuthenticator(presence=AlwaysPresent()).handle_cbor(request)
    assert len(reply) >= 1
    if reply[0] == 0 and len(reply) > 1:
        assert isinstance(cbor.decode(reply[1:]), dict)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([0x01, 0x02, 0x04, 0x06, 0x08, 0x0B]),
       st.dictionaries(st.integers(min_value=1, max_value=10), cbor_values, max_size=8))
def test_any_parameter_map_gets_a_ctap2_status(command, params):
    authenticator = SoftAuthenticator()
    reply = authenticator.handle_cbor(bytes([command]) + cbor.encode(params))
    if reply[0] == 0 and len(reply) > 1:
        assert isinstance(cbor.decode(reply[1:]), dict)


@given(st.binary(max_size=300))
def test_any_apdu_gets_a_status_word(apdu):
    reply = SoftAuthenticator().handle_apdu(apdu)
    assert len(reply) >= 2


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(min_size=64, max_size=64), max_size=12))
def test_any_hid_packets_leave_the_connection_answering(packets):
    connection = SoftHidConnection(SoftAuthenticator())
    for packet in packets:
        connection.write_packet(packet)
    while True:  # drain: every queued reply is a whole report
        try:
            assert len(connection.read_packet()) == 64
        except OSError:
            break
    # A fresh INIT still works afterwards.
    connection.write_packet(struct.pack(">IBH", 0xFFFFFFFF, 0x86, 8).ljust(64, b"\0"))
    assert connection.read_packet()[4] == 0x86


# ---- moved from tests/verifier/test_soft_authenticator.py (the old test-only key's checks, on this one) ------
@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=2000))
def test_ping_payloads_of_any_size_echo_through_the_hid_framing(payload):
    device = open_soft_hid_device(SoftAuthenticator())
    assert device.ping(payload) == payload


def test_a_u2f_only_key_announces_no_cbor():
    assert not CAPABILITY.CBOR.supported(open_soft_hid_device(SoftAuthenticator(ctap2=False)).capabilities)
    assert CAPABILITY.CBOR.supported(open_soft_hid_device(SoftAuthenticator()).capabilities)


@settings(deadline=None)
@given(params=st.dictionaries(st.integers(min_value=1, max_value=8),
                              st.one_of(st.integers(-(2**31), 2**31), st.text(max_size=5), st.binary(max_size=5),
                                        st.lists(st.integers(0, 9), max_size=3)), max_size=6),
       command=st.sampled_from([0x01, 0x02, 0x04]))
def test_make_credential_and_get_assertion_with_ill_typed_parameters_answer_an_error(params, command):
    reply = SoftAuthenticator().handle_cbor(bytes([command]) + cbor.encode(params))
    assert reply[0] != 0x00 or command == 0x04
