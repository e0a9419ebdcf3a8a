"""A request waiting for a touch ends with KEEPALIVE_CANCEL when python-fido2 cancels it, on each framing:
CTAPHID_CANCEL over HID, NFCCTAP_GETRESPONSE with P1=0x11 over NFC, a CANCEL frame over BLE."""

from __future__ import annotations

import threading

from fido2.ctap import STATUS, CtapError
from fido2.hid import CTAPHID

from native_host.fido.softkey.presence import RefuseAfter

RESET = b"\x07"  # authenticatorReset waits for a touch before it does anything


def test_cancel_ends_a_request_waiting_for_touch(make_key):
    # Without a working cancel the key would refuse after 300 polls: OPERATION_DENIED, not KEEPALIVE_CANCEL.
    key, auth = make_key(presence=RefuseAfter(300))
    auth.store.pin_hash = b"\x01" * 16  # something a reset would wipe
    cancel = threading.Event()
    statuses: list[STATUS] = []

    def on_keepalive(status: STATUS) -> None:
        statuses.append(status)
        cancel.set()

    reply = key.device().call(CTAPHID.CBOR, RESET, event=cancel, on_keepalive=on_keepalive)
    assert reply == bytes([CtapError.ERR.KEEPALIVE_CANCEL])
    assert statuses == [STATUS.UPNEEDED]
    assert auth.store.pin_hash == b"\x01" * 16
