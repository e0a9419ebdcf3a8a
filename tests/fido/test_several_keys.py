"""Several keys at once: the first touched wins, the others are cancelled; a removed key is reported."""

from __future__ import annotations

import threading

import pytest

from native_host.fido.ceremonies import webauthn
from native_host.fido.discovery import KeyHandle
from native_host.fido.errors import DeviceRemoved, NoDevice
from native_host.fido.soft_transports.ble import open_soft_ble_device
from native_host.fido.softkey.authenticator import SoftAuthenticator
from native_host.fido.softkey.presence import ManualTouch, NeverTouched
from tests.fido.helpers import ORIGIN, open_key

USER = {"id": b"user-1", "name": "alice"}


def test_first_touched_key_wins_and_the_other_is_cancelled(server):
    first_presence, second_presence = ManualTouch(), ManualTouch()
    first = SoftAuthenticator(presence=first_presence)
    second = SoftAuthenticator(presence=second_presence)
    keys = [open_key("usb", first, "first"), open_key("nfc", second, "second")]
    events: list[tuple[str, str]] = []
    both_waiting = threading.Event()

    def on_event(name: str, details: dict) -> None:
        events.append((name, details.get("device", "")))
        if sum(1 for n, _ in events if n == "fido.touch") == 2:
            both_waiting.set()

    def touch_second_when_both_wait() -> None:
        both_waiting.wait(10)
        second_presence.touch()

    toucher = threading.Thread(target=touch_second_when_both_wait)
    toucher.start()
    options, state = server.register_begin(USER)
    response = webauthn.create(ORIGIN, dict(options.public_key), keys, on_event=on_event)
    toucher.join()
    server.register_complete(state, response)
    assert ("fido.selected", "nfc:second") in events
    assert len(second.store.credentials) == 1
    connection = keys[0].device()._connection
    for _ in range(500):  # the loser's thread sends CTAPHID_CANCEL; wait until the key has dropped the command
        if connection._running is None:
            break
        threading.Event().wait(0.01)
    assert connection._running is None
    first_presence.touch()  # a touch now must find nothing left to approve
    assert first.store.credentials == {}


def test_no_key_at_all_is_no_device(server):
    options, _ = server.register_begin(USER)
    with pytest.raises(NoDevice):
        webauthn.create(ORIGIN, dict(options.public_key), [])


def test_bluetooth_key_going_away_is_reported_as_removed(server):
    authenticator = SoftAuthenticator(presence=NeverTouched())
    device, peripheral = open_soft_ble_device(authenticator)
    key = KeyHandle.for_device(device, "ble", "away", key_id="ble:away")
    events: list[str] = []

    def on_event(name: str, details: dict) -> None:
        events.append(name)
        if name == "fido.touch":
            peripheral.drop_link()

    options, _ = server.register_begin(USER)
    with pytest.raises(DeviceRemoved):
        webauthn.create(ORIGIN, dict(options.public_key), [key], on_event=on_event)
    assert "fido.key_removed" in events
