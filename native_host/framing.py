"""Native-messaging framing as a sans-I/O codec.

A frame is a 32-bit length in native byte order followed by that many bytes of UTF-8 JSON. This module
only turns bytes into messages and messages into bytes; it never reads, writes, sleeps or starts threads.
The host loop (``host.py``) moves the bytes.

Limits:

* replies (host → browser) are at most :data:`MAX_REPLY_BYTES` (1 MiB, Chromium's limit: a larger
  reply makes Chromium drop the port), enforced by :func:`encode_message`;
* requests (browser → host) are at most :data:`MAX_REQUEST_BYTES` (4 MiB): a protocol message is a few
  hundred bytes; an import file pasted into the popup is the largest legitimate request.

Errors come in two kinds. A complete frame whose body is not UTF-8, not JSON or not a JSON object leaves
the stream in step, so :meth:`FrameDecoder.feed` returns it as a :class:`BadFrame` value and decoding
carries on. A length over the cap, or a frame cut short by the end of the stream, means the stream can no
longer be trusted: :class:`FrameTooLarge` and :class:`TruncatedFrame` are raised.
"""

from __future__ import annotations

import json
import struct

TYPE_CHECKING = False  # typing itself costs ~2 ms of cold start; type checkers know this idiom
if TYPE_CHECKING:
    from typing import Any

MAX_REPLY_BYTES = 1024 * 1024
MAX_REQUEST_BYTES = 4 * 1024 * 1024
MAX_ID_LENGTH = 256  # characters of a string request id: every reply echoes the id, so it must stay small
MAX_INT_ID = 2**63  # integer ids lie in [-2**63, 2**63)
HEADER = struct.Struct("=I")  # native byte order, standard 4-byte size

if TYPE_CHECKING:
    JsonObject = dict[str, Any]
    RequestId = str | int | None


class FramingError(Exception):
    """Base class of every error the codec raises or reports."""

    code = "bad_frame"


class BadFrame(FramingError):
    """A complete frame whose body is not a UTF-8 JSON object. The stream is still in step.

    ``request_id`` is the request's id where one could be read from the body, else ``None``.
    """

    def __init__(self, message: str, request_id: RequestId = None) -> None:
        super().__init__(message)
        self.request_id = request_id


class FrameTooLarge(FramingError):
    """A frame's length exceeds the cap (incoming) or the reply would exceed 1 MiB (outgoing)."""

    code = "too_large"


class TruncatedFrame(FramingError):
    """The stream ended in the middle of a frame."""


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python accepts them by default, browsers never send them.
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def usable_id(value: Any) -> bool:
    """True for a request id a reply can echo: null, a string of at most MAX_ID_LENGTH characters, or an
    integer in [-2**63, 2**63)."""
    if value is None:
        return True
    if isinstance(value, str):
        return len(value) <= MAX_ID_LENGTH
    return isinstance(value, int) and not isinstance(value, bool) and -MAX_INT_ID <= value < MAX_INT_ID


def _readable_id(value: Any) -> RequestId:
    """The request id if ``value`` is an object carrying a usable one (string or integer), else None."""
    if isinstance(value, dict):
        rid = value.get("id")
        if rid is not None and usable_id(rid):
            return rid
    return None


def decode_body(body: bytes) -> JsonObject | BadFrame:
    """Decode one frame body to a JSON object, or return a :class:`BadFrame` saying what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Try to salvage the id so the sender can match the error to its request.
        try:
            rid = _readable_id(_loads(body.decode("utf-8", "replace")))
        except (ValueError, RecursionError):
            rid = None
        return BadFrame(f"the message is not valid UTF-8 (byte {exc.start})", rid)
    try:
        value = _loads(text)
    except RecursionError:
        return BadFrame("the message is nested too deeply")
    except ValueError as exc:  # JSONDecodeError, too many integer digits, NaN/Infinity
        return BadFrame(f"the message is not valid JSON ({exc})")
    if not isinstance(value, dict):
        return BadFrame(f"the message must be a JSON object, not {type(value).__name__}")
    if "\\u" in text and not _is_encodable(value):
        # A lone surrogate escape ("\\ud800") decodes to a str that cannot be stored or echoed as UTF-8.
        return BadFrame("the message contains a lone UTF-16 surrogate escape", _readable_id(value))
    return value


def _is_encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class FrameDecoder:
    """Incremental decoder: :meth:`feed` bytes as they arrive, get complete messages back.

    After :class:`FrameTooLarge` has been raised the decoder refuses further input, since the stream is out
    of step; call :meth:`feed_eof` when the stream ends to detect a truncated frame.
    """

    def __init__(self, max_size: int = MAX_REQUEST_BYTES) -> None:
        self.max_size = max_size
        self._buffer = bytearray()
        self._expected: int | None = None  # body length of the frame being read, once its header is in
        self._failed: FramingError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[JsonObject | BadFrame]:
        """Add ``data`` and return every message completed by it, in order.

        Each item is either a decoded JSON object or a :class:`BadFrame` (not raised: the stream is still in
        step). Raises :class:`FrameTooLarge` when a header announces more than ``max_size`` bytes.
        """
        if self._failed is not None:
            raise self._failed
        self._buffer += data
        out: list[JsonObject | BadFrame] = []
        while True:
            if self._expected is None:
                if len(self._buffer) < HEADER.size:
                    return out
                (length,) = HEADER.unpack_from(self._buffer)
                if length > self.max_size:
                    self._failed = FrameTooLarge(
                        f"incoming message of {length} bytes exceeds the {self.max_size}-byte limit"
                    )
                    self._buffer.clear()
                    raise self._failed
                del self._buffer[: HEADER.size]
                self._expected = length
            if len(self._buffer) < self._expected:
                return out
            body = bytes(self._buffer[: self._expected])
            del self._buffer[: self._expected]
            self._expected = None
            out.append(decode_body(body))

    def feed_eof(self) -> None:
        """Signal the end of the stream. Raises :class:`TruncatedFrame` if a frame was cut short."""
        if self._failed is not None:
            return
        if self._expected is not None or self._buffer:
            have = len(self._buffer)
            want = self._expected if self._expected is not None else HEADER.size
            what = "body" if self._expected is not None else "length header"
            self._buffer.clear()
            self._expected = None
            self._failed = TruncatedFrame(f"the stream ended inside a frame {what} ({have} of {want} bytes)")
            raise self._failed


def encode_message(message: JsonObject, max_size: int = MAX_REPLY_BYTES) -> bytes:
    """Encode one message as a frame. Raises :class:`FrameTooLarge` if the body exceeds ``max_size``.

    Non-ASCII text is sent as UTF-8 rather than ``\\u`` escapes: it keeps replies smaller.
    """
    if not isinstance(message, dict):
        raise TypeError("a native message must be a dict")
    try:
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: \u escapes keep the frame valid UTF-8
        body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode("ascii")
    if len(body) > max_size:
        raise FrameTooLarge(f"reply of {len(body)} bytes exceeds the {max_size}-byte limit")
    return HEADER.pack(len(body)) + body
