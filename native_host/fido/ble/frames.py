"""Sans-I/O CTAP-over-BLE framing: fragment a message into frames, reassemble frames into a message.

A message is an initialization frame ``CMD | HLEN | LLEN | data`` followed by continuation frames
``SEQ | data`` (SEQ 0..0x7F, wrapping), each at most the control point length. No I/O, no threads:
the BLE client and the software peripheral both use this one codec.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum


class BleCommand(IntEnum):
    PING = 0x81
    KEEPALIVE = 0x82
    MSG = 0x83
    CANCEL = 0xBE
    ERROR = 0xBF


class BleError(IntEnum):
    """Codes of an ERROR frame (CTAP 2.1 §11.4.4)."""

    INVALID_CMD = 0x01
    INVALID_PAR = 0x02
    INVALID_LEN = 0x03
    INVALID_SEQ = 0x04
    REQ_TIMEOUT = 0x05
    BUSY = 0x06
    OTHER = 0x7F


MAX_MESSAGE = 0xFFFF  # the 2-byte length field's limit


class FrameError(ValueError):
    """A frame sequence that does not form a valid message; ``code`` is the BLE ERROR code to answer."""

    def __init__(self, code: BleError, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class BleMessage:
    command: BleCommand
    data: bytes


def fragment(command: int, data: bytes, max_frame: int) -> list[bytes]:
    """Split ``data`` into frames of at most ``max_frame`` bytes (the control point length)."""
    if max_frame < 4:
        raise ValueError("a frame must hold at least the 3-byte header and 1 byte")
    if len(data) > MAX_MESSAGE:
        raise ValueError(f"a BLE message holds at most {MAX_MESSAGE} bytes, not {len(data)}")
    frames = [struct.pack(">BH", command, len(data)) + data[: max_frame - 3]]
    rest = data[max_frame - 3 :]
    seq = 0
    while rest:
        frames.append(bytes([seq]) + rest[: max_frame - 1])
        rest = rest[max_frame - 1 :]
        seq = (seq + 1) & 0x7F
    return frames


class FrameAssembler:
    """Reassembles frames into messages; raises :class:`FrameError` and forgets the partial message on any
    violation, so the next initialization frame starts clean."""

    def __init__(self, *, max_frame: int, max_message: int = MAX_MESSAGE,
                 commands: frozenset[int] = frozenset(BleCommand)) -> None:
        self.max_frame = max_frame
        self.max_message = max_message
        self.commands = commands
        self._command: BleCommand | None = None
        self._length = 0
        self._data = bytearray()
        self._seq = 0

    @property
    def in_progress(self) -> bool:
        return self._command is not None

    def reset(self) -> None:
        self._command, self._length, self._data, self._seq = None, 0, bytearray(), 0

    def _fail(self, code: BleError, message: str) -> FrameError:
        self.reset()
        return FrameError(code, message)

    def feed(self, frame: bytes) -> BleMessage | None:
        """Take one frame; return the message it completes, or None while more frames are due."""
        if not frame:
            raise self._fail(BleError.INVALID_LEN, "empty frame")
        if len(frame) > self.max_frame:
            raise self._fail(BleError.INVALID_LEN,
                             f"frame of {len(frame)} bytes exceeds the control point length {self.max_frame}")
        if frame[0] & 0x80:
            if self._command is not None and frame[0] != BleCommand.CANCEL:
                raise self._fail(BleError.INVALID_SEQ, "initialization frame while a message is incomplete")
            if frame[0] not in self.commands:
                raise self._fail(BleError.INVALID_CMD, f"unknown command 0x{frame[0]:02x}")
            if len(frame) < 3:
                raise self._fail(BleError.INVALID_LEN, "initialization frame shorter than its 3-byte header")
            length = struct.unpack_from(">H", frame, 1)[0]
            if length > self.max_message:
                raise self._fail(BleError.INVALID_LEN,
                                 f"declared length {length} exceeds the maximum message size {self.max_message}")
            if frame[0] == BleCommand.CANCEL and self._command is not None:
                self.reset()  # CANCEL aborts a request still arriving
            self._command, self._length, self._data, self._seq = BleCommand(frame[0]), length, bytearray(frame[3:]), 0
        else:
            if self._command is None:
                raise self._fail(BleError.INVALID_SEQ, f"continuation frame (seq {frame[0]}) without a message")
            if frame[0] != self._seq:
                raise self._fail(BleError.INVALID_SEQ,
                                 f"wrong sequence number: expected {self._seq}, got {frame[0]}")
            self._seq = (self._seq + 1) & 0x7F
            self._data += frame[1:]
        if len(self._data) > self._length:
            raise self._fail(BleError.INVALID_LEN,
                             f"frames carry {len(self._data)} bytes, more than the declared length {self._length}")
        if len(self._data) == self._length:
            message = BleMessage(self._command, bytes(self._data))
            self.reset()
            return message
        return None
