"""BleCtapDevice (our CTAP-over-GATT transport) against the software peripheral's GATT surface."""

from __future__ import annotations

import threading

import pytest
from fido2.ctap import STATUS, CtapError
from fido2.ctap2 import Ctap2
from fido2.hid import CAPABILITY, CTAPHID

from native_host.fido.ble.device import BleCtapDevice, BleLinkLost
from native_host.fido.ble.frames import BleCommand
from native_host.fido.ble.gatt import REVISION_FIDO2, REVISION_U2F_1_2, RevisionError
from native_host.fido.soft_transports.ble import SoftGattClient, open_soft_ble_device
from native_host.fido.softkey.authenticator import SoftAuthenticator
from native_host.fido.softkey.presence import NeverTouched, TouchAfter

RESET = b"\x07"  # authenticatorReset: asks for a touch, then answers with an empty success


def test_fido2_revision_is_selected_and_ctap2_works():
    device, peripheral = open_soft_ble_device(SoftAuthenticator())
    assert peripheral.selected_revision == REVISION_FIDO2
    assert device.capabilities & CAPABILITY.CBOR
    assert "FIDO_2_1" in Ctap2(device).info.versions


def test_u2f_only_peripheral_gets_the_u2f_revision_and_no_ctap2():
    device, peripheral = open_soft_ble_device(SoftAuthenticator(ctap2=False))
    assert peripheral.selected_revision == REVISION_U2F_1_2
    assert not device.capabilities & CAPABILITY.CBOR
    with pytest.raises(CtapError):
        device.call(CTAPHID.CBOR, b"\x04")


def test_peripheral_without_a_known_revision_is_refused():
    client = SoftGattClient(SoftAuthenticator(), revisions=0x01)
    with pytest.raises(RevisionError):
        BleCtapDevice(client)


def test_requests_are_fragmented_to_the_control_point_length():
    device, peripheral = open_soft_ble_device(SoftAuthenticator(), control_point_length=20)
    assert device.call(CTAPHID.PING, b"p" * 300) == b"p" * 300
    assert all(len(frame) <= 20 for frame in peripheral.frames_written)
    assert len(peripheral.frames_written) > 15


def test_keepalive_reports_that_a_touch_is_needed():
    device, _ = open_soft_ble_device(SoftAuthenticator(presence=TouchAfter(5)))
    statuses: list[STATUS] = []
    assert device.call(CTAPHID.CBOR, RESET, on_keepalive=statuses.append) == b"\x00"
    assert statuses == [STATUS.UPNEEDED]


def test_cancel_ends_a_request_waiting_for_touch():
    device, _ = open_soft_ble_device(SoftAuthenticator(presence=NeverTouched()))
    cancel = threading.Event()
    reply = device.call(CTAPHID.CBOR, RESET, event=cancel, on_keepalive=lambda status: cancel.set())
    assert reply == bytes([CtapError.ERR.KEEPALIVE_CANCEL])


def test_link_loss_during_a_request_is_reported():
    device, peripheral = open_soft_ble_device(SoftAuthenticator(presence=NeverTouched()))
    with pytest.raises(BleLinkLost, match="disconnected"):
        device.call(CTAPHID.CBOR, RESET, on_keepalive=lambda status: peripheral.drop_link())


def test_malformed_frames_from_the_peripheral_are_a_clear_error():
    device, peripheral = open_soft_ble_device(SoftAuthenticator())
    real_send = peripheral._send

    def send_with_a_wrong_sequence(command: int, data: bytes) -> None:
        notify = peripheral._notify
        assert notify is not None
        notify(None, bytearray([BleCommand.MSG, 0, 100]) + bytearray(61))
        notify(None, bytearray([5]) + bytearray(10))  # seq 5 where 0 is due

    peripheral._send = send_with_a_wrong_sequence
    with pytest.raises(CtapError) as caught:
        device.call(CTAPHID.PING, b"x")
    assert caught.value.code == CtapError.ERR.INVALID_SEQ
    peripheral._send = real_send
    assert device.call(CTAPHID.PING, b"again") == b"again"


def test_peripheral_refuses_a_wrong_sequence_with_an_error_frame():
    device, peripheral = open_soft_ble_device(SoftAuthenticator())
    frames = []
    peripheral._notify, real_notify = (lambda sender, data: frames.append(bytes(data))), peripheral._notify
    device._runner.run(peripheral.write_gatt_char(
        "f1d0fff1-deaa-ecee-b42f-c9ba7ed623bb", bytes([BleCommand.MSG, 0, 200]) + b"\0" * 61))
    device._runner.run(peripheral.write_gatt_char("f1d0fff1-deaa-ecee-b42f-c9ba7ed623bb", b"\x03rest"))
    peripheral._notify = real_notify
    assert frames == [bytes([BleCommand.ERROR, 0, 1, 0x04])]


def test_a_key_touched_already_answers_without_a_keepalive():
    device, _ = open_soft_ble_device(SoftAuthenticator())  # the virtual key's policy: always present
    statuses: list[STATUS] = []
    assert device.call(CTAPHID.CBOR, RESET, on_keepalive=statuses.append) == b"\x00"
    assert statuses == []

