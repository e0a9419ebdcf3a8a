"""A virtual contactless card for the real PC/SC stack: the software key's applet served to vsmartcard's
``vpcd`` reader driver (Debian ``vsmartcard-vpcd``, loaded by ``pcscd``) over its TCP socket (port 35963).

vpcd protocol (vsmartcard's ``vpcd.h``): every message is a 2-byte big-endian length and a payload. A
1-byte payload is a control: 0 power off, 1 power on, 2 reset, 4 get ATR (answered with the ATR);
anything longer is a command APDU, answered with the response APDU. Nothing is answered for power
on/off/reset. This is a test and developer tool: pyscard and ``fido2.pcsc`` then see a real reader.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

from ..softkey.authenticator import SoftAuthenticator
from .nfc import ATR, CardApplet

VPCD_PORT = 35963
POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4


class VpcdCard:
    """Connects to vpcd and answers it from a :class:`CardApplet` until ``stop()``."""

    def __init__(self, authenticator: SoftAuthenticator, *, host: str = "127.0.0.1", port: int = VPCD_PORT) -> None:
        self.authenticator = authenticator
        self.applet = CardApplet(authenticator)
        self._socket = socket.create_connection((host, port), timeout=5)
        self._socket.settimeout(None)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="vpcd-card", daemon=True)
        self._thread.start()

    def _read_exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self._socket.recv(size - len(data))
            if not chunk:
                raise ConnectionError("vpcd closed the connection")
            data += chunk
        return data

    def _send(self, payload: bytes) -> None:
        self._socket.sendall(struct.pack(">H", len(payload)) + payload)

    def _serve(self) -> None:
        try:
            while not self._stopping.is_set():
                (length,) = struct.unpack(">H", self._read_exactly(2))
                payload = self._read_exactly(length)
                if length == 1:
                    if payload[0] in (POWER_ON, RESET, POWER_OFF):
                        self.applet = CardApplet(self.authenticator)  # a power cycle forgets the selection
                    elif payload[0] == GET_ATR:
                        self._send(ATR)
                    continue
                self._send(self.applet.process(payload))
        except (OSError, ConnectionError):
            return  # vpcd went away, or stop() closed the socket

    def stop(self) -> None:
        """Take the card out of the field: vpcd reports it removed."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        self._thread.join(timeout=5)
