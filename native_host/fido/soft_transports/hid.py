"""CTAPHID framing of the software authenticator: an in-memory ``CtapHidConnection``.

``write_packet`` reassembles requests (INIT, PING, MSG, CBOR, WINK, CANCEL); ``read_packet`` returns
queued reply packets, or, while a CTAP2 command waits for a touch, a KEEPALIVE (UPNEEDED) packet every
``keepalive_interval`` seconds. A CANCEL packet ends the waiting command with KEEPALIVE_CANCEL.
"""

from __future__ import annotations

import struct
import threading
import time
from collections import deque

from fido2.hid import CAPABILITY, CTAPHID, TYPE_INIT, CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

from ..softkey.authenticator import SoftAuthenticator
from ..softkey.run import CommandRun

PACKET_SIZE = 64
BROADCAST_CHANNEL = 0xFFFFFFFF
ERR_INVALID_CMD, ERR_INVALID_PAR, ERR_INVALID_LEN, ERR_INVALID_SEQ, ERR_CHANNEL_BUSY = 0x01, 0x02, 0x03, 0x04, 0x06
MAX_PAYLOAD = PACKET_SIZE - 7 + 128 * (PACKET_SIZE - 5)  # 7609 bytes: the CTAPHID maximum


def hid_reply_packets(channel: int, cmd: int, payload: bytes, packet_size: int = PACKET_SIZE) -> list[bytes]:
    """Split one message into an initialization packet and continuation packets (zero-padded)."""
    header = struct.pack(">IBH", channel, TYPE_INIT | cmd, len(payload))
    first, rest = payload[: packet_size - 7], payload[packet_size - 7 :]
    packets = [(header + first).ljust(packet_size, b"\0")]
    seq = 0
    while rest:
        chunk, rest = rest[: packet_size - 5], rest[packet_size - 5 :]
        packets.append((struct.pack(">IB", channel, seq) + chunk).ljust(packet_size, b"\0"))
        seq += 1
    return packets


class SoftHidConnection(CtapHidConnection):
    """What a USB HID key does with the packets python-fido2 writes and reads."""

    def __init__(self, authenticator: SoftAuthenticator, *, keepalive_interval: float = 0.02) -> None:
        self.authenticator = authenticator
        self.keepalive_interval = keepalive_interval
        self._lock = threading.Lock()
        self._replies: deque[bytes] = deque()
        self._next_channel = 1
        self._partial: tuple[int, int, int, bytearray, int] | None = None  # channel, cmd, length, data, next seq
        self._running: tuple[int, CommandRun] | None = None  # the channel and command waiting for a touch
        self.closed = False

    # ---- host → key --------------------------------------------------------------------------------------
    def write_packet(self, data: bytes) -> None:
        with self._lock:
            self._receive(bytes(data))

    def _receive(self, data: bytes) -> None:
        if len(data) != PACKET_SIZE:
            return  # not a report of this device: a real key never sees it
        channel = struct.unpack_from(">I", data)[0]
        if data[4] & TYPE_INIT:
            cmd, length = data[4] & 0x7F, struct.unpack_from(">H", data, 5)[0]
            if cmd == CTAPHID.CANCEL:
                if self._running and self._running[0] == channel:
                    self._finish_running(cancel=True)
                return  # CANCEL itself has no reply
            if self._running is not None:
                self._send(channel, CTAPHID.ERROR, bytes([ERR_CHANNEL_BUSY]))
                return
            if length > MAX_PAYLOAD:
                self._send(channel, CTAPHID.ERROR, bytes([ERR_INVALID_LEN]))
                return
            self._partial = (channel, cmd, length, bytearray(data[7:]), 0)
        elif self._partial is not None and self._partial[0] == channel:
            ch, cmd, length, buf, seq = self._partial
            if data[4] != seq:
                self._partial = None
                self._send(channel, CTAPHID.ERROR, bytes([ERR_INVALID_SEQ]))
                return
            buf.extend(data[5:])
            self._partial = (ch, cmd, length, buf, seq + 1)
        else:
            return  # a continuation with no request in progress: ignored, as the spec says
        ch, cmd, length, buf, _seq = self._partial
        if len(buf) >= length:
            self._partial = None
            self._dispatch(ch, cmd, bytes(buf[:length]))

    def _dispatch(self, channel: int, cmd: int, payload: bytes) -> None:
        auth = self.authenticator
        if cmd == CTAPHID.INIT:
            if len(payload) != 8:
                self._send(channel, CTAPHID.ERROR, bytes([ERR_INVALID_LEN]))
                return
            new_channel = self._next_channel
            self._next_channel += 1
            caps = CAPABILITY.WINK | (CAPABILITY.CBOR if auth.ctap2_enabled else 0) | \
                (0 if auth.u2f_enabled else CAPABILITY.NMSG)
            self._send(channel, cmd, payload + struct.pack(">IBBBBB", new_channel, 2, 1, 0, 0, caps))
        elif channel == BROADCAST_CHANNEL:
            self._send(channel, CTAPHID.ERROR, bytes([ERR_INVALID_PAR]))  # only INIT may use broadcast
        elif cmd == CTAPHID.PING:
            self._send(channel, cmd, payload)
        elif cmd == CTAPHID.WINK:
            self._send(channel, cmd, b"")
        elif cmd == CTAPHID.CBOR and auth.ctap2_enabled:
            run = auth.start_cbor(payload)
            if run.reply is not None:
                self._send(channel, cmd, run.reply)
            else:
                self._running = (channel, run)
        elif cmd == CTAPHID.MSG and auth.u2f_enabled:
            self._send(channel, cmd, auth.handle_apdu(payload))
        else:
            self._send(channel, CTAPHID.ERROR, bytes([ERR_INVALID_CMD]))

    # ---- key → host --------------------------------------------------------------------------------------
    def read_packet(self) -> bytes:
        """The next reply packet. Raises OSError when nothing is pending (a fake must never block forever)."""
        with self._lock:
            if self.closed:
                raise OSError("the software key was closed")
            if not self._replies and self._running is not None:
                run = self._running[1]
                if run.step() is not None:
                    self._finish_running(cancel=False)
                else:
                    packet = hid_reply_packets(self._running[0], CTAPHID.KEEPALIVE, bytes([run.keepalive_status]))[0]
                    time.sleep(self.keepalive_interval)  # a real key sends keepalives every ~100 ms, not a flood
                    return packet
            if not self._replies:
                raise OSError("software key: no reply pending")
            return self._replies.popleft()

    def _finish_running(self, *, cancel: bool) -> None:
        assert self._running is not None
        channel, run = self._running
        self._running = None
        reply = run.cancel() if cancel else run.reply
        assert reply is not None
        self._send(channel, CTAPHID.CBOR, reply)

    def _send(self, channel: int, cmd: int, payload: bytes) -> None:
        self._replies.extend(hid_reply_packets(channel, cmd, payload))

    def close(self) -> None:
        """Nothing to release; reads after close fail like an unplugged key."""


def open_soft_hid_device(authenticator: SoftAuthenticator, *, path: str = "soft:0",
                         keepalive_interval: float = 0.02) -> CtapHidDevice:
    """A real ``fido2.hid.CtapHidDevice`` over the software authenticator's CTAPHID framing."""
    descriptor = HidDescriptor(path, 0x1209, 0x7432, PACKET_SIZE, PACKET_SIZE, authenticator.label, "0001")
    return CtapHidDevice(descriptor, SoftHidConnection(authenticator, keepalive_interval=keepalive_interval))
