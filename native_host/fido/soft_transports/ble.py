"""CTAP-over-GATT framing of the software authenticator: a bleak-like client whose peripheral is the
software key, for :class:`native_host.fido.ble.device.BleCtapDevice`.

Writes to fidoControlPoint are reassembled with the same sans-I/O codec; replies, KEEPALIVE frames
(every ``keepalive_interval`` while a command waits for a touch) and ERROR frames are fragmented to
the control point length and delivered through the fidoStatus notification callback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..ble.frames import BleCommand, BleError, FrameAssembler, FrameError, fragment
from ..ble.gatt import (
    CONTROL_POINT_LENGTH_UUID,
    CONTROL_POINT_UUID,
    REVISION_FIDO2,
    REVISION_U2F_1_2,
    SERVICE_REVISION_BITFIELD_UUID,
    STATUS_UUID,
)
from ..softkey.authenticator import SoftAuthenticator
from ..softkey.run import CommandRun


class GattError(Exception):
    """What bleak raises for an unknown characteristic or a dropped link."""


class SoftGattClient:
    """bleak's ``BleakClient`` method subset, connected to a software FIDO peripheral."""

    def __init__(self, authenticator: SoftAuthenticator, *, control_point_length: int = 64,
                 revisions: int | None = None, keepalive_interval: float = 0.02) -> None:
        self.authenticator = authenticator
        self.control_point_length = control_point_length
        if revisions is None:
            revisions = (REVISION_FIDO2 if authenticator.ctap2_enabled else 0) | \
                (REVISION_U2F_1_2 if authenticator.u2f_enabled else 0)
        self.revisions = revisions
        self.keepalive_interval = keepalive_interval
        self.selected_revision: int | None = None
        self.connected = False
        self.frames_written: list[bytes] = []  # what the client sent, for tests of its fragmentation
        self._notify: Callable[[Any, bytearray], None] | None = None
        self._assembler = FrameAssembler(max_frame=control_point_length)
        self._run: CommandRun | None = None
        self._waiter: asyncio.Task[None] | None = None

    # ---- bleak's surface ---------------------------------------------------------------------------------
    @property
    def is_connected(self) -> bool:
        return self.connected

    async def connect(self) -> bool:
        self.connected = True
        return True

    async def disconnect(self) -> bool:
        self.drop_link()
        return True

    def drop_link(self) -> None:
        """Simulate the key going out of range: the link is gone, a waiting command never answers."""
        self.connected = False
        if self._waiter is not None:
            self._waiter.cancel()
        self._run = None

    def _check(self) -> None:
        if not self.connected:
            raise GattError("Not connected")

    async def read_gatt_char(self, char_specifier: str) -> bytearray:
        self._check()
        if char_specifier == CONTROL_POINT_LENGTH_UUID:
            return bytearray(self.control_point_length.to_bytes(2, "big"))
        if char_specifier == SERVICE_REVISION_BITFIELD_UUID:
            return bytearray([self.revisions])
        raise GattError(f"characteristic {char_specifier} is not readable")

    async def start_notify(self, char_specifier: str, callback: Callable[[Any, bytearray], None]) -> None:
        self._check()
        if char_specifier != STATUS_UUID:
            raise GattError(f"characteristic {char_specifier} does not notify")
        self._notify = callback

    async def stop_notify(self, char_specifier: str) -> None:
        self._notify = None

    async def write_gatt_char(self, char_specifier: str, data: bytes, response: bool | None = None) -> None:
        self._check()
        data = bytes(data)
        if char_specifier == SERVICE_REVISION_BITFIELD_UUID:
            if len(data) != 1 or data[0] & ~self.revisions or bin(data[0]).count("1") != 1:
                raise GattError("write one offered revision bit")
            self.selected_revision = data[0]
            return
        if char_specifier != CONTROL_POINT_UUID:
            raise GattError(f"characteristic {char_specifier} is not writable")
        self.frames_written.append(data)
        try:
            message = self._assembler.feed(data)
        except FrameError as exc:
            self._send(BleCommand.ERROR, bytes([exc.code]))
            return
        if message is not None:
            self._dispatch(message.command, message.data)

    # ---- the peripheral ----------------------------------------------------------------------------------
    def _dispatch(self, command: int, data: bytes) -> None:
        if command == BleCommand.CANCEL:
            if self._run is not None:
                self._finish(cancel=True)
            return
        if self._run is not None:
            self._send(BleCommand.ERROR, bytes([BleError.BUSY]))
            return
        if command == BleCommand.PING:
            self._send(BleCommand.PING, data)
        elif command != BleCommand.MSG or not data:
            self._send(BleCommand.ERROR, bytes([BleError.INVALID_CMD]))
        elif data[0] == 0x00:  # CLA 0x00: a U2F APDU
            if not self.authenticator.u2f_enabled:
                self._send(BleCommand.ERROR, bytes([BleError.INVALID_CMD]))
            else:
                self._send(BleCommand.MSG, self.authenticator.handle_apdu(data))
        elif self.selected_revision != REVISION_FIDO2:
            self._send(BleCommand.ERROR, bytes([BleError.INVALID_CMD]))  # CTAP2 needs the FIDO2 revision
        else:
            run = self.authenticator.start_cbor(data)
            if run.reply is not None:
                self._send(BleCommand.MSG, run.reply)
            else:
                self._run = run
                self._waiter = asyncio.get_running_loop().create_task(self._wait_for_touch(run))

    async def _wait_for_touch(self, run: CommandRun) -> None:
        # Ask for presence at once (a key touched already answers without a keepalive, as the HID framing
        # does), then keepalive every interval until touched or cancelled.
        while self._run is run:
            if run.step() is not None:
                self._finish(cancel=False)
                return
            self._send(BleCommand.KEEPALIVE, bytes([run.keepalive_status]))
            await asyncio.sleep(self.keepalive_interval)

    def _finish(self, *, cancel: bool) -> None:
        run, self._run = self._run, None
        assert run is not None
        reply = run.cancel() if cancel else run.reply
        assert reply is not None
        self._send(BleCommand.MSG, reply)

    def _send(self, command: int, data: bytes) -> None:
        if self._notify is None or not self.connected:
            return
        for frame in fragment(command, data, self.control_point_length):
            self._notify(STATUS_UUID, bytearray(frame))


def open_soft_ble_device(authenticator: SoftAuthenticator, *, control_point_length: int = 64,
                         keepalive_interval: float = 0.02, name: str | None = None):  # -> BleCtapDevice
    """A :class:`BleCtapDevice` over the software peripheral (returns the device and the peripheral)."""
    from ..ble.device import BleCtapDevice

    client = SoftGattClient(authenticator, control_point_length=control_point_length,
                            keepalive_interval=keepalive_interval)
    return BleCtapDevice(client, name=name or authenticator.label), client
