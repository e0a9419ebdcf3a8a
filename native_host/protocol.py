"""The host protocol as a sans-I/O state machine: bytes in, requests to run and bytes to send out.

Like python-websockets' protocol core, :class:`Protocol` never reads, writes, sleeps or starts a thread;
the host loop (``host.py``) moves the bytes and runs the requests. Feed what arrives on stdin to
:meth:`Protocol.receive_data` (and :meth:`~Protocol.receive_eof` at the end), take the well-formed
requests from :meth:`~Protocol.requests_received` and run them, hand each outcome back to
:meth:`~Protocol.finish`, and write whatever :meth:`~Protocol.data_to_send` returns.

What it owns:

* **parsing** — frames through the codec (``framing.py``); a frame that is not a JSON object is answered
  ``bad_frame`` at once and the stream carries on; a length over the cap or a frame cut short by EOF
  raises (:class:`~native_host.framing.FrameTooLarge`, :class:`~native_host.framing.TruncatedFrame`): the
  stream can no longer be trusted;
* **validation** of the request envelope (``id``, ``method``, ``params``): ``bad_request`` at once;
* **ordering** — requests come out of :meth:`~Protocol.requests_received` in arrival order; each is
  *pending* (queued or running) until :meth:`~Protocol.finish`. Requests of the ``concurrent`` methods
  (security-key ceremonies that wait for a touch) are marked so the host runs them off the ordered queue;
* **cancel** — ``cancel {"target": ID}`` is answered here, at once, so it overtakes the queue: it sets the
  pending request's :attr:`Request.cancelled` event, which the method checks (before it starts, and while
  it waits).

Threads: the host feeds input from one thread (the reader) and finishes requests and sends events from
others. Decoding touches only reader-side state, so it runs unlocked (a reply being finished never waits
for a 64 KiB read to be parsed); the pending table and the outgoing frames sit behind one short lock.
"""

from __future__ import annotations

import threading

from .framing import BadFrame, FrameDecoder, FrameTooLarge, encode_message, usable_id

TYPE_CHECKING = False  # typing itself costs ~2 ms of cold start; type checkers know this idiom
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from .errors import Tracker2faError

# Error attributes a client needs besides code and message (security keys: the DOMException to raise in
# the page and the U2F JS API error code), copied into the error object when the exception has them.
_ERROR_EXTRAS = ("dom_name", "u2f_error_code")


class Request:
    """One request: pending from :meth:`Protocol.requests_received` until :meth:`Protocol.finish`."""

    __slots__ = ("cancelled", "concurrent", "id", "method", "params")

    def __init__(self, request_id: Any, method: str, params: dict[str, Any], *, concurrent: bool = False) -> None:
        self.id = request_id
        self.method = method
        self.params = params
        self.concurrent = concurrent  # run off the ordered queue (it may wait minutes for a touch)
        self.cancelled = threading.Event()  # set by `cancel` or when the port closes; read by the method

    def __repr__(self) -> str:
        return f"Request({self.id!r}, {self.method!r})"


class RequestError(Exception):
    """The envelope of a request is malformed (answered ``bad_request``)."""


def error_reply(request_id: Any, code: str, message: str, **extras: Any) -> dict[str, Any]:
    """``{"id": ..., "error": {"code", "message", ...extras}}``."""
    return {"id": request_id, "error": {"code": code, "message": message, **extras}}


def parse_request(message: dict[str, Any], concurrent_methods: Iterable[str | tuple[str, str]] = ()) -> Request:
    """The request in ``message``; :class:`RequestError` naming what is malformed."""
    if not usable_id(message.get("id")):
        raise RequestError("'id' must be null, a string of at most 256 characters or an integer below 2**63")
    method = message.get("method")
    if not isinstance(method, str) or not method:
        raise RequestError("'method' must be a non-empty string")
    params = message.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise RequestError("'params' must be an object")
    # A concurrent "method" is a name, or a (name, params.method) pair for one variant of a method (vault.unlock
    # by security key waits for a touch; by password it stays in order).
    variant = params.get("method")
    concurrent = method in concurrent_methods or (isinstance(variant, str) and (method, variant) in concurrent_methods)
    return Request(message.get("id"), method, params, concurrent=concurrent)


class Protocol:
    """One port's protocol state: the frame decoder, the pending requests, the bytes waiting to be sent."""

    def __init__(
        self,
        *,
        concurrent_methods: Iterable[str | tuple[str, str]] = (),
        max_request_bytes: int | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self._decoder = FrameDecoder() if max_request_bytes is None else FrameDecoder(max_request_bytes)
        self._concurrent = frozenset(concurrent_methods)
        self._log = log
        self._received: list[Request] = []  # reader side only
        self._lock = threading.Lock()  # guards _pending and _out, shared by every thread
        self._pending: dict[Any, Request] = {}  # id -> the latest request with it, queued or running
        self._out: list[bytes] = []

    # -- input

    def receive_data(self, data: bytes) -> int:
        """Take bytes from the browser; return how many frames it answered itself (bad frames, malformed
        requests, cancel), so that the caller writes only when there is an answer of its own to write.
        Raises FrameTooLarge when a frame announces more than the cap."""
        answered = 0
        for message in self._decoder.feed(data):
            answered += self._receive_message(message)
        return answered

    def receive_eof(self) -> None:
        """The browser closed the port. Raises TruncatedFrame when it did so inside a frame."""
        self._decoder.feed_eof()

    def _receive_message(self, message: dict[str, Any] | BadFrame) -> int:
        if isinstance(message, BadFrame):
            self.send(error_reply(message.request_id, "bad_frame", str(message)))
            return 1
        try:
            request = parse_request(message, self._concurrent)
        except RequestError as exc:
            rid = message.get("id")
            self.send(error_reply(rid if usable_id(rid) else None, "bad_request", str(exc)))
            return 1
        if request.method == "cancel":  # answered here so that it overtakes the queue
            target = request.params.get("target")
            if target is None or not usable_id(target):
                self.send(error_reply(request.id, "bad_request", "parameter 'target' must be a request id"))
            else:
                self.send({"id": request.id, "result": {"cancelled": self.cancel(target)}})
            return 1
        if request.id is not None:
            with self._lock:
                self._pending[request.id] = request
        self._received.append(request)
        return 0

    # -- output

    def requests_received(self) -> list[Request]:
        """The requests received since the last call, in arrival order (each pending until finished)."""
        received, self._received = self._received, []
        return received

    def data_to_send(self) -> bytes:
        """Every frame produced since the last call, in order (b"" when there is none)."""
        if not self._out:
            return b""
        with self._lock:
            out, self._out = self._out, []
        return b"".join(out)

    @property
    def has_data_to_send(self) -> bool:
        return bool(self._out)

    def send(self, message: dict[str, Any]) -> None:
        """Queue one frame (a reply or an event). A reply too large for the browser becomes ``too_large``."""
        data = self._encode(message)
        with self._lock:
            self._out.append(data)

    def _encode(self, message: dict[str, Any]) -> bytes:
        try:
            data = encode_message(message)
        except FrameTooLarge as exc:
            rid = message.get("id")
            data = encode_message(error_reply(rid if usable_id(rid) else None, "too_large", str(exc)))
        except (TypeError, ValueError) as exc:
            if self._log is not None:
                self._log(f"cannot encode a reply ({type(exc).__name__})")
            data = encode_message(error_reply(message.get("id"), "internal_error", "the host built a bad reply"))
        return data

    def finish(self, request: Request, result: dict[str, Any] | None = None,
               error: Tracker2faError | None = None) -> None:
        """Answer ``request`` with ``result`` or ``error``; it is no longer pending (cancel finds nothing)."""
        if error is None:
            try:  # the common case inline: this runs once per request
                data = encode_message({"id": request.id, "result": result})
            except (FrameTooLarge, TypeError, ValueError):
                data = self._encode({"id": request.id, "result": result})
        else:
            extras = {name: getattr(error, name) for name in _ERROR_EXTRAS if getattr(error, name, None) is not None}
            data = self._encode(error_reply(request.id, error.code, error.message, **extras))
        with self._lock:
            if self._pending.get(request.id) is request:
                del self._pending[request.id]
            self._out.append(data)

    # -- cancel

    def cancel(self, target: Any) -> bool:
        """Cancel the pending request with id ``target``; False when none is queued or running."""
        with self._lock:
            request = self._pending.get(target)
        if request is None:
            return False
        request.cancelled.set()
        return True

    def cancel_all(self, *, concurrent_only: bool = False) -> None:
        """Cancel every pending request (SIGTERM), or only the concurrent ones (the port closed)."""
        with self._lock:
            requests = list(self._pending.values())
        for request in requests:
            if request.concurrent or not concurrent_only:
                request.cancelled.set()

    def pending(self, request_id: Any) -> Request | None:
        """The pending request with this id, if any."""
        with self._lock:
            return self._pending.get(request_id)
