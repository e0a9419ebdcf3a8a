"""``BleCtapDevice``: a python-fido2 ``CtapDevice`` speaking CTAP over GATT through a bleak-like client.

The client object is injected (a ``bleak.BleakClient`` in production, a software peripheral in tests)
and only these members are used: ``is_connected``, ``connect()``, ``read_gatt_char(uuid)``,
``write_gatt_char(uuid, data, response=True)``, ``start_notify(uuid, callback)``, ``stop_notify(uuid)``,
``disconnect()``. Frames go through the sans-I/O :mod:`.frames` codec.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from threading import Event
from typing import Any, Protocol

from fido2.ctap import STATUS, CtapDevice, CtapError
from fido2.hid import CAPABILITY, CTAPHID

from .frames import BleCommand, BleError, BleMessage, FrameAssembler, FrameError, fragment
from .gatt import (
    CONTROL_POINT_LENGTH_UUID,
    CONTROL_POINT_UUID,
    REVISION_FIDO2,
    SERVICE_REVISION_BITFIELD_UUID,
    STATUS_UUID,
    choose_revision,
    parse_control_point_length,
)
from .loop import LoopThread

_ERROR_TO_CTAP = {BleError.INVALID_CMD: CtapError.ERR.INVALID_COMMAND,
                  BleError.INVALID_PAR: CtapError.ERR.INVALID_PARAMETER,
                  BleError.INVALID_LEN: CtapError.ERR.INVALID_LENGTH,
                  BleError.INVALID_SEQ: CtapError.ERR.INVALID_SEQ,
                  BleError.REQ_TIMEOUT: CtapError.ERR.TIMEOUT,
                  BleError.BUSY: CtapError.ERR.CHANNEL_BUSY}


class GattClient(Protocol):
    """The subset of ``bleak.BleakClient`` this transport uses."""

    @property
    def is_connected(self) -> bool: ...
    async def connect(self) -> Any: ...
    async def read_gatt_char(self, char_specifier: str) -> bytearray: ...
    async def write_gatt_char(self, char_specifier: str, data: bytes, response: bool | None = None) -> None: ...
    async def start_notify(self, char_specifier: str, callback: Callable[[Any, bytearray], None]) -> None: ...
    async def stop_notify(self, char_specifier: str) -> None: ...
    async def disconnect(self) -> Any: ...


class BleLinkLost(ConnectionError):
    """The Bluetooth link dropped during a request (the key was switched off or moved away)."""


class BleCtapDevice(CtapDevice):
    """CTAP2/U2F over a connected FIDO GATT peripheral."""

    def __init__(self, client: GattClient, *, name: str = "Bluetooth security key", address: str | None = None,
                 runner: LoopThread | None = None, silence_timeout: float = 3.0) -> None:
        self._client = client
        self._name = name
        self.address = address
        self._runner = runner or LoopThread.shared()
        self._silence_timeout = silence_timeout  # keepalives come every <= 500 ms; this much silence is a loss
        self._inbox: queue.Queue[BleMessage | FrameError] = queue.Queue()
        self._lock = threading.Lock()
        self.revision, self.control_point_length, self.offered_revisions = self._runner.run(self._setup())
        self._assembler = FrameAssembler(max_frame=self.control_point_length)
        self._capabilities = CAPABILITY(0)
        if self.revision == REVISION_FIDO2:
            self._capabilities |= CAPABILITY.CBOR
            if not self.offered_revisions & 0xC0:
                self._capabilities |= CAPABILITY.NMSG  # FIDO2-only: no U2F messages

    async def _setup(self) -> tuple[int, int, int]:
        if not self._client.is_connected:
            await self._client.connect()
        length = parse_control_point_length(bytes(await self._client.read_gatt_char(CONTROL_POINT_LENGTH_UUID)))
        bitfield = bytes(await self._client.read_gatt_char(SERVICE_REVISION_BITFIELD_UUID))
        revision = choose_revision(bitfield)
        await self._client.write_gatt_char(SERVICE_REVISION_BITFIELD_UUID, bytes([revision]), response=True)
        await self._client.start_notify(STATUS_UUID, self._on_status)
        return revision, length, bitfield[0]

    def _on_status(self, _sender: Any, data: bytearray) -> None:
        """Notification callback (runs on the loop thread): reassemble, hand complete messages over."""
        try:
            message = self._assembler.feed(bytes(data))
        except FrameError as exc:
            self._inbox.put(exc)
            return
        if message is not None:
            self._inbox.put(message)

    def __repr__(self) -> str:
        return f"BleCtapDevice({self._name!r})"

    @property
    def product_name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> int:
        return self._capabilities

    def _write_frames(self, command: int, data: bytes) -> None:
        self._runner.run(self._write_all(fragment(command, data, self.control_point_length)))

    async def _write_all(self, frames: list[bytes]) -> None:
        # One trip to the loop thread for the whole message, each frame still written (and acknowledged) in turn.
        for frame in frames:
            await self._client.write_gatt_char(CONTROL_POINT_UUID, frame, response=True)

    def call(self, cmd: int, data: bytes = b"", event: Event | None = None,
             on_keepalive: Callable[[STATUS], None] | None = None) -> bytes:
        if cmd == CTAPHID.CBOR:
            if not self._capabilities & CAPABILITY.CBOR:
                raise CtapError(CtapError.ERR.INVALID_COMMAND)
            command = BleCommand.MSG
        elif cmd == CTAPHID.MSG:
            command = BleCommand.MSG  # a U2F APDU starts with CLA 0x00, never a CTAP2 command byte
        elif cmd == CTAPHID.PING:
            command = BleCommand.PING
        else:
            raise CtapError(CtapError.ERR.INVALID_COMMAND)
        event = event or Event()
        with self._lock:
            self._drain()
            try:
                self._write_frames(command, data)
            except Exception as exc:
                raise BleLinkLost(f"writing to the control point failed: {exc}") from exc
            return self._await_reply(command, event, on_keepalive)

    def _drain(self) -> None:
        while True:
            try:
                self._inbox.get_nowait()
            except queue.Empty:
                return

    def _await_reply(self, command: int, event: Event, on_keepalive: Callable[[STATUS], None] | None) -> bytes:
        last_status: STATUS | None = None
        cancelled = False
        last_heard = time.monotonic()
        while True:
            if event.is_set() and not cancelled:
                cancelled = True
                self._write_frames(BleCommand.CANCEL, b"")
            try:
                item = self._inbox.get(timeout=0.05)
            except queue.Empty:
                if not self._client.is_connected:
                    raise BleLinkLost("the Bluetooth key disconnected") from None
                if time.monotonic() - last_heard > self._silence_timeout:
                    raise CtapError(CtapError.ERR.TIMEOUT) from None
                continue
            last_heard = time.monotonic()
            if isinstance(item, FrameError):
                raise CtapError(CtapError.ERR.INVALID_LENGTH if item.code == BleError.INVALID_LEN
                                else CtapError.ERR.INVALID_SEQ if item.code == BleError.INVALID_SEQ
                                else CtapError.ERR.OTHER) from item
            if item.command == BleCommand.KEEPALIVE:
                try:
                    status = STATUS(item.data[0])
                except (IndexError, ValueError):
                    raise CtapError(CtapError.ERR.OTHER) from None
                if on_keepalive is not None and status != last_status:
                    on_keepalive(status)
                last_status = status
                continue
            if item.command == BleCommand.ERROR:
                code = item.data[0] if item.data else BleError.OTHER
                raise CtapError(_ERROR_TO_CTAP.get(code, CtapError.ERR.OTHER))  # type: ignore[call-overload]
            if item.command == command:
                return item.data
            raise CtapError(CtapError.ERR.INVALID_COMMAND)

    def close(self) -> None:
        try:
            self._runner.run(self._client.stop_notify(STATUS_UUID), timeout=5)
            self._runner.run(self._client.disconnect(), timeout=5)
        except Exception:  # closing a link that is already gone
            pass

    @classmethod
    def list_devices(cls) -> Iterator[CtapDevice]:
        """Scan, connect and yield every FIDO peripheral in range (needs bleak and an adapter)."""
        from .scan import open_ble_devices

        yield from open_ble_devices()
