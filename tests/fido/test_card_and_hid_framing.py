"""The software key's NFC APDU and CTAPHID framings, at the byte level and under the real device classes."""

from __future__ import annotations

import struct

import pytest
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.hid import CTAPHID, TYPE_INIT
from hypothesis import given
from hypothesis import strategies as st

from native_host.fido.soft_transports.hid import SoftHidConnection, hid_reply_packets, open_soft_hid_device
from native_host.fido.soft_transports.nfc import AID_FIDO, CardApplet, open_soft_nfc_device
from native_host.fido.softkey.authenticator import SoftAuthenticator
from native_host.fido.softkey.u2f import ApduFormatError, parse_apdu

SELECT = bytes.fromhex("00A4040008") + AID_FIDO


def _selected_applet(**kwargs) -> CardApplet:
    applet = CardApplet(SoftAuthenticator(**kwargs))
    assert applet.process(SELECT)[-2:] == b"\x90\x00"
    return applet


def test_select_answers_u2f_v2_or_fido_2_0():
    assert CardApplet(SoftAuthenticator()).process(SELECT) == b"U2F_V2\x90\x00"
    assert CardApplet(SoftAuthenticator(u2f=False)).process(SELECT) == b"FIDO_2_0\x90\x00"


def test_commands_before_select_are_refused():
    assert CardApplet(SoftAuthenticator()).process(bytes.fromhex("8010000001") + b"\x04") == b"\x6a\x82"


def test_chained_request_and_get_response_carry_a_long_exchange():
    applet = _selected_applet()
    ping_like = b"\x04"  # getInfo, sent in two chained parts: 0x90 CLA first, then the last part
    assert applet.process(bytes.fromhex("9010000000")) == b"\x90\x00"
    response = applet.process(bytes.fromhex("8010000001") + ping_like + b"\x00")
    data = response[:-2]
    while response[-2] == 0x61:
        response = applet.process(bytes.fromhex("00C0000000"))
        data += response[:-2]
    assert response[-2:] == b"\x90\x00" and data[0] == 0 and len(data) > 100


def test_extended_apdu_gets_the_whole_reply_at_once():
    applet = _selected_applet()
    response = applet.process(bytes.fromhex("80100000000001") + b"\x04" + b"\x00\x00")
    assert response[-2:] == b"\x90\x00" and response[0] == 0


def test_a_chain_switching_command_midway_is_refused():
    applet = _selected_applet()
    applet.process(bytes.fromhex("9010000001") + b"\x04")
    assert applet.process(bytes.fromhex("0001000000")) == b"\x68\x84"


def test_real_pcsc_device_uses_extended_apdus_too():
    device = open_soft_nfc_device(SoftAuthenticator())
    device.use_ext_apdu = True
    assert "FIDO_2_1" in Ctap2(device).get_info().versions


@given(st.binary(max_size=300))
def test_apdu_parser_accepts_or_refuses_clearly(apdu):
    try:
        cla, ins, p1, p2, data = parse_apdu(apdu)
    except ApduFormatError:
        return
    assert bytes([cla, ins, p1, p2]) == apdu[:4] and data in apdu


@given(st.binary(max_size=300))
def test_applet_answers_every_apdu_with_a_status_word(apdu):
    response = _selected_applet().process(apdu)
    assert len(response) >= 2


# ---- CTAPHID ---------------------------------------------------------------------------------------------------
def _init_channel(connection: SoftHidConnection) -> int:
    connection.write_packet(struct.pack(">IBH", 0xFFFFFFFF, TYPE_INIT | CTAPHID.INIT, 8).ljust(64, b"\0"))
    return struct.unpack_from(">I", connection.read_packet(), 15)[0]


def test_hid_wrong_continuation_sequence_is_an_invalid_seq_error():
    connection = SoftHidConnection(SoftAuthenticator())
    channel = _init_channel(connection)
    connection.write_packet(struct.pack(">IBH", channel, TYPE_INIT | CTAPHID.PING, 100).ljust(64, b"\0"))
    connection.write_packet(struct.pack(">IB", channel, 3).ljust(64, b"\0"))
    assert connection.read_packet()[:8] == struct.pack(">IBHB", channel, TYPE_INIT | CTAPHID.ERROR, 1, 0x04)


def test_hid_message_longer_than_ctaphid_allows_is_refused():
    connection = SoftHidConnection(SoftAuthenticator())
    channel = _init_channel(connection)
    connection.write_packet(struct.pack(">IBH", channel, TYPE_INIT | CTAPHID.PING, 8000).ljust(64, b"\0"))
    assert connection.read_packet()[:8] == struct.pack(">IBHB", channel, TYPE_INIT | CTAPHID.ERROR, 1, 0x03)


@given(st.binary(max_size=7609), st.sampled_from([64]))
def test_hid_reply_packets_split_and_number_continuations(payload, size):
    packets = hid_reply_packets(7, CTAPHID.CBOR, payload, size)
    assert all(len(p) == size for p in packets)
    body = packets[0][7:] + b"".join(p[5:] for p in packets[1:])
    assert body[: len(payload)] == payload
    assert [p[4] for p in packets[1:]] == list(range(len(packets) - 1))


def test_hid_u2f_only_key_refuses_ctap2():
    device = open_soft_hid_device(SoftAuthenticator(ctap2=False))
    with pytest.raises(CtapError) as caught:
        device.call(CTAPHID.CBOR, b"\x04")
    assert caught.value.code == CtapError.ERR.INVALID_COMMAND
