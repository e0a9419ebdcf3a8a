"""The FIDO GATT service (CTAP 2.1 §11.4): UUIDs, revision bits and control-point limits."""

from __future__ import annotations

FIDO_SERVICE_UUID = "0000fffd-0000-1000-8000-00805f9b34fb"
CONTROL_POINT_UUID = "f1d0fff1-deaa-ecee-b42f-c9ba7ed623bb"  # write
STATUS_UUID = "f1d0fff2-deaa-ecee-b42f-c9ba7ed623bb"  # notify
CONTROL_POINT_LENGTH_UUID = "f1d0fff3-deaa-ecee-b42f-c9ba7ed623bb"  # read, 2 bytes big-endian
SERVICE_REVISION_BITFIELD_UUID = "f1d0fff4-deaa-ecee-b42f-c9ba7ed623bb"  # read/write
SERVICE_REVISION_UUID = "00002a28-0000-1000-8000-00805f9b34fb"  # legacy U2F 1.0 string

REVISION_U2F_1_1, REVISION_U2F_1_2, REVISION_FIDO2 = 0x80, 0x40, 0x20
CONTROL_POINT_MIN, CONTROL_POINT_MAX = 20, 512


class RevisionError(ValueError):
    """The peripheral offers no FIDO service revision this client speaks."""


def choose_revision(bitfield: bytes) -> int:
    """The revision bit to write back: FIDO2 first, then U2F 1.2, then U2F 1.1."""
    if not bitfield:
        raise RevisionError("the peripheral's service revision bitfield is empty")
    offered = bitfield[0]
    for bit in (REVISION_FIDO2, REVISION_U2F_1_2, REVISION_U2F_1_1):
        if offered & bit:
            return bit
    raise RevisionError(f"the peripheral offers no supported FIDO revision (bitfield 0x{offered:02x})")


def parse_control_point_length(value: bytes) -> int:
    """fidoControlPointLength: 2 bytes big-endian, within 20..512 (CTAP 2.1 §11.4.1)."""
    if len(value) != 2:
        raise ValueError(f"fidoControlPointLength must be 2 bytes, got {len(value)}")
    length = int.from_bytes(value, "big")
    if not CONTROL_POINT_MIN <= length <= CONTROL_POINT_MAX:
        raise ValueError(f"fidoControlPointLength {length} is outside {CONTROL_POINT_MIN}..{CONTROL_POINT_MAX}")
    return length
