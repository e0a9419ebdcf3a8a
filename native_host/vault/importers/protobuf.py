"""A small, strict protocol-buffers wire-format reader (enough for Google Authenticator's export).

Reads any field order, skips unknown fields, and raises :class:`ImportFailed` — never anything else —
for truncated or malformed input. No schema, no code generation, no dependency.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...errors import ImportFailed

VARINT, FIXED64, LENGTH_DELIMITED, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5


class ProtobufError(ImportFailed):
    """The protobuf data is malformed."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; return (value, next position)."""
    result = 0
    for shift in range(0, 70, 7):
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if result >= 1 << 64:
                raise ProtobufError("varint longer than 64 bits")
            return result, pos
    raise ProtobufError("varint longer than 10 bytes")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield (field number, wire type, value) for each field: ints for varint/fixed, bytes otherwise."""
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0 is invalid")
        value: int | bytes
        if wire_type == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire_type == FIXED64:
            if pos + 8 > len(buf):
                raise ProtobufError("truncated 64-bit field")
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire_type == LENGTH_DELIMITED:
            length, pos = read_varint(buf, pos)
            if pos + length > len(buf):
                raise ProtobufError(f"field {number} runs past the end of the data")
            value, pos = bytes(buf[pos : pos + length]), pos + length
        elif wire_type == FIXED32:
            if pos + 4 > len(buf):
                raise ProtobufError("truncated 32-bit field")
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        else:  # groups (3, 4) are deprecated and never used by the formats we read
            raise ProtobufError(f"unsupported wire type {wire_type} in field {number}")
        yield number, wire_type, value


def as_int64(value: int) -> int:
    """Interpret a varint as a signed two's-complement int64."""
    return value - (1 << 64) if value >= 1 << 63 else value


def message(buf: bytes) -> dict[int, list[int | bytes]]:
    """All fields of a message, grouped by number, values in order (repeated fields keep every value)."""
    fields: dict[int, list[int | bytes]] = {}
    for number, _wire_type, value in iter_fields(buf):
        fields.setdefault(number, []).append(value)
    return fields
