"""NFC (ISO 7816-4 over ISO 14443) framing of the software authenticator: a pyscard-like card connection.

What a FIDO NFC card does with the APDUs ``fido2.pcsc.CtapPcscDevice`` sends: SELECT of the FIDO applet,
NFCCTAP_MSG (``80 10``) carrying CTAP2, NFCCTAP_GETRESPONSE (``80 11``, P1=0x11 cancels) while the card
answers ``91 00`` + keepalive status, command chaining (CLA bit 0x10) for long requests, ``61 XX`` +
GET RESPONSE (``00 C0``) for long replies, extended-length APDUs, and plain U2F APDUs.
:class:`CardApplet` is the sans-I/O part (APDU in, response APDU out); :class:`SoftCardConnection`
wraps it in pyscard's ``CardConnection`` method subset.
"""

from __future__ import annotations

import struct
import time

from ..softkey.authenticator import SoftAuthenticator
from ..softkey.run import CommandRun
from ..softkey.u2f import ApduFormatError, parse_apdu

AID_FIDO = bytes.fromhex("A0000006472F0001")
SW_OK, SW_UPDATE = b"\x90\x00", b"\x91\x00"
SW_WRONG_LENGTH, SW_NOT_FOUND, SW_INS, SW_CONDITIONS = b"\x67\x00", b"\x6a\x82", b"\x6d\x00", b"\x69\x85"
SW_CHAINING_ERROR = b"\x68\x84"  # "command chaining not supported" / broken chain
SHORT_LE = 256
MAX_CHAIN = 8192  # bytes a chained command may accumulate: more is an attack, not a CTAP message
ATR = bytes.fromhex("3b8f8001804f0ca000000306030001000000006a")  # a contactless card's ATR (PC/SC part 3)


class CardApplet:
    """The FIDO applet's APDU state machine."""

    def __init__(self, authenticator: SoftAuthenticator, *, wait_interval: float = 0.02) -> None:
        self.authenticator = authenticator
        self.wait_interval = wait_interval
        self.selected = False
        self._chain = bytearray()
        self._chain_header: bytes | None = None
        self._outgoing = b""  # the rest of a long reply, served by GET RESPONSE
        self._run: CommandRun | None = None

    def process(self, apdu: bytes) -> bytes:
        """One command APDU → response data + SW1 SW2."""
        try:
            cla, ins, p1, p2, data = parse_apdu(apdu)
        except ApduFormatError:
            return SW_WRONG_LENGTH
        extended = len(apdu) > 5 and apdu[4] == 0 and len(apdu) >= 7
        if cla & 0x10:  # chained: accumulate, answer 9000, process at the last part
            if self._chain_header not in (None, bytes([cla & ~0x10, ins, p1, p2])):
                self._reset_chain()
                return SW_CHAINING_ERROR
            self._chain_header = bytes([cla & ~0x10, ins, p1, p2])
            self._chain += data
            if len(self._chain) > MAX_CHAIN:
                self._reset_chain()
                return SW_WRONG_LENGTH
            return SW_OK
        if self._chain_header is not None:
            if self._chain_header != bytes([cla, ins, p1, p2]):
                self._reset_chain()
                return SW_CHAINING_ERROR
            data = bytes(self._chain) + data
            self._reset_chain()
        if ins == 0xC0 and cla == 0x00:
            return self._serve(b"", extended=False, continuing=True)
        if ins == 0xA4 and cla == 0x00:
            return self._select(p1, data)
        if not self.selected:
            return SW_NOT_FOUND
        if cla == 0x80 and ins == 0x10:
            return self._nfcctap_msg(p1, data, extended)
        if cla == 0x80 and ins == 0x11:
            return self._nfcctap_getresponse(p1, extended)
        if cla == 0x00 and self.authenticator.u2f_enabled:
            reply = self.authenticator.handle_apdu(bytes([cla, ins, p1, p2]) + _lc(data))
            return self._serve(reply[:-2], extended=extended, sw=reply[-2:])
        return SW_INS

    def _reset_chain(self) -> None:
        self._chain = bytearray()
        self._chain_header = None

    def _select(self, p1: int, aid: bytes) -> bytes:
        if p1 != 0x04 or aid != AID_FIDO:
            self.selected = False
            return SW_NOT_FOUND
        self.selected = True
        self._run = None
        # Cards that also speak U2F answer "U2F_V2" (YubiKeys do); FIDO2-only cards answer "FIDO_2_0".
        return (b"U2F_V2" if self.authenticator.u2f_enabled else b"FIDO_2_0") + SW_OK

    def _nfcctap_msg(self, p1: int, data: bytes, extended: bool) -> bytes:
        if not self.authenticator.ctap2_enabled:
            return SW_INS
        self._run = self.authenticator.start_cbor(data)
        if p1 & 0x80:  # the platform will poll with NFCCTAP_GETRESPONSE
            return self._poll(extended)
        while self._run.step() is None:  # no polling support: the card holds the field until done
            time.sleep(self.wait_interval)
            if self._run.polls > 3000:
                self._run.cancel()
        return self._finish(extended)

    def _nfcctap_getresponse(self, p1: int, extended: bool) -> bytes:
        if self._run is None:
            return SW_CONDITIONS
        if p1 == 0x11:
            self._run.cancel()
            return self._finish(extended)
        return self._poll(extended)

    def _poll(self, extended: bool) -> bytes:
        assert self._run is not None
        if self._run.step() is None:
            return bytes([self._run.keepalive_status]) + SW_UPDATE
        return self._finish(extended)

    def _finish(self, extended: bool) -> bytes:
        assert self._run is not None and self._run.reply is not None
        reply, self._run = self._run.reply, None
        return self._serve(reply, extended=extended)

    def _serve(self, data: bytes, *, extended: bool, sw: bytes = SW_OK, continuing: bool = False) -> bytes:
        """Send up to Le bytes; announce the rest with 61 XX (XX = 00 means 256 or more)."""
        if continuing:
            data, self._outgoing = self._outgoing, b""
            if not data:
                return SW_CONDITIONS
        if extended or len(data) <= SHORT_LE:
            return data + sw
        chunk, self._outgoing = data[:SHORT_LE], data[SHORT_LE:]
        return chunk + bytes([0x61, min(len(self._outgoing), 0xFF) if len(self._outgoing) < 256 else 0x00])


def _lc(data: bytes) -> bytes:
    """Encode a command body as an extended APDU (U2F over NFC accepts both forms)."""
    if not data:
        return b""
    return b"\x00" + struct.pack(">H", len(data)) + data + b"\x00\x00"


class SoftCardConnection:
    """pyscard's ``CardConnection`` subset that ``CtapPcscDevice`` uses, over a :class:`CardApplet`."""

    def __init__(self, authenticator: SoftAuthenticator, *, wait_interval: float = 0.02) -> None:
        self.applet = CardApplet(authenticator, wait_interval=wait_interval)
        self.connected = False
        self.removed = False  # set to simulate the card leaving the field

    def connect(self, protocol: int | None = None, mode: int | None = None, disposition: int | None = None) -> None:
        if self.removed:
            raise OSError("no card in the reader's field")
        self.connected = True
        self.applet.selected = False

    def disconnect(self) -> None:
        self.connected = False

    def release(self) -> None:
        self.connected = False

    def getATR(self) -> list[int]:  # pyscard's name
        return list(ATR)

    def transmit(self, command: list[int], protocol: int | None = None) -> tuple[list[int], int, int]:
        if self.removed or not self.connected:
            raise OSError("the card left the reader's field")
        response = self.applet.process(bytes(command))
        return list(response[:-2]), response[-2], response[-1]


def open_soft_nfc_device(authenticator: SoftAuthenticator, *, name: str = "tracker2fa soft reader 00 00",
                         wait_interval: float = 0.02):  # -> fido2.pcsc.CtapPcscDevice (import is lazy)
    """A real ``fido2.pcsc.CtapPcscDevice`` over the software card (needs pyscard installed)."""
    from fido2.pcsc import CtapPcscDevice

    return CtapPcscDevice(SoftCardConnection(authenticator, wait_interval=wait_interval), name)
