"""``tracker2fa-host``: the process a browser starts for the extension's native-messaging port.

This module only moves bytes and runs requests; the protocol itself (parsing, validation, ordering, cancel)
is the sans-I/O :class:`~native_host.protocol.Protocol`. Threads: the main thread reads stdin and feeds the
protocol (which answers ``cancel`` at once, since it must overtake the request it cancels); one dispatcher
thread runs requests one at a time, in arrival order, and starts a worker thread for each security-key
ceremony (it may wait minutes for a touch); the session's auto-lock watcher emits events. All of them write
through the one serialized :class:`Channel`, which puts each frame on the protocol channel whole.

stdout is the protocol channel. Before anything else runs, file descriptor 1 is pointed at stderr and
``sys.stdout`` replaced by ``sys.stderr``, so a stray ``print`` or a library's chatter lands in the
browser's log instead of corrupting the stream; frames go to a private duplicate of the original stdout.

Exit status: 0 when the browser closes the port (EOF), 1 when the host refuses to serve (the caller is not
an allowed extension, or the host configuration is broken), 2 when the stream breaks the protocol (a
length over the cap, or a frame cut short by EOF).
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import select
import signal
import sys
import threading
from collections.abc import Sequence

from .errors import Tracker2faError  # loaded by the method table anyway: free here
from .framing import FrameTooLarge, TruncatedFrame
from .protocol import Protocol, Request, error_reply

TYPE_CHECKING = False  # typing itself costs ~2 ms of cold start; type checkers know this idiom

if TYPE_CHECKING:  # typing and dataclasses stay off the cold-start path
    from typing import Any

EXIT_EOF = 0
EXIT_REFUSED = 1
EXIT_PROTOCOL = 2
READ_SIZE = 64 * 1024
# Requests waiting for the dispatcher. When the queue is full the reader stops reading, so a browser that
# sends faster than it reads the replies fills its own pipe instead of the host's memory.
QUEUE_LIMIT = 64
MAX_CONCURRENT = 4  # security-key requests running at once (a browser runs one ceremony at a time)
TERM_GRACE_SECONDS = 5.0  # after SIGTERM, how long the request in progress may take to finish
_CHROMIUM_ORIGIN = re.compile(r"^chrome-extension://([a-p]{32})/?$")


def log(message: str) -> None:
    """One line to stderr (the browser's log). Never pass secrets, codes or passwords here."""
    try:
        sys.stderr.write(f"tracker2fa-host[{os.getpid()}]: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


# --- the caller ---------------------------------------------------------------------------------------------


class Caller:
    """Who started the host, as told by the browser's argv."""

    __slots__ = ("browser", "extension_id", "manifest_path")

    def __init__(self, browser: str, extension_id: str, manifest_path: str | None = None) -> None:
        self.browser = browser  # "chromium" (any Chromium-family browser) or "firefox"
        self.extension_id = extension_id
        self.manifest_path = manifest_path

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Caller) and (self.browser, self.extension_id, self.manifest_path) == (
            other.browser,
            other.extension_id,
            other.manifest_path,
        )

    def __repr__(self) -> str:
        return f"Caller({self.browser!r}, {self.extension_id!r}, {self.manifest_path!r})"


def identify_caller(argv: Sequence[str]) -> Caller | None:
    """Read the caller from argv; None if argv is not what a browser passes.

    Chromium family: ``[host, "chrome-extension://<id>/"]`` (Windows appends ``--parent-window=<hwnd>``).
    Firefox: ``[host, <manifest path>, <add-on id>]``.
    """
    args = list(argv[1:])
    if args and args[0].startswith("chrome-extension://"):
        match = _CHROMIUM_ORIGIN.match(args[0])
        extra = args[1:]
        if match and all(a.startswith("--parent-window=") for a in extra):
            return Caller("chromium", match.group(1))
        return None
    if len(args) == 2 and args[0] and args[1]:
        return Caller("firefox", args[1], manifest_path=args[0])
    return None


def check_caller(argv: Sequence[str], config: Any) -> tuple[Caller | None, str]:
    """Return (caller, "") when the caller may be served, else (caller or None, the reason it may not)."""
    caller = identify_caller(argv)
    if caller is None:
        return None, (
            "tracker2fa-host is started by a browser for the tracker2fa extension; "
            "run `tracker2fa install` to register it, or `tracker2fa doctor` to check the set-up"
        )
    allowed = config.allows_chromium if caller.browser == "chromium" else config.allows_firefox
    if not allowed(caller.extension_id):
        return caller, (
            f"extension {caller.extension_id!r} ({caller.browser}) is not allowed to use this host; "
            f"allow it with `tracker2fa install --extension-id {caller.extension_id}`"
        )
    return caller, ""


# --- the channel -----------------------------------------------------------------------------------------


def protect_stdout() -> int:
    """Keep stdout for frames only: return a private fd for frames, point fd 1 and sys.stdout at stderr."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stdout.flush()
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if sys.platform == "win32":  # no CRLF translation on the binary protocol channel
        import msvcrt

        msvcrt.setmode(0, os.O_BINARY)
        msvcrt.setmode(out_fd, os.O_BINARY)
    return out_fd


_STOP = object()


class Channel:
    """The one serialized way onto the protocol channel: the :class:`~native_host.protocol.Protocol` and the
    fd its bytes go to.

    Called by the dispatcher and security-key workers (replies), the reader (``bad_frame``, ``cancel``) and the
    auto-lock watcher (events). Each frame is written whole; whoever holds the write lock writes every frame
    produced so far, in the order produced. Writing in the caller's thread, rather than handing frames to a
    writer thread, saves a thread switch per reply.
    """

    def __init__(self, protocol: Protocol, fd: int) -> None:
        self.protocol = protocol
        self.fd = fd
        self.broken = False
        self._write_lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        """Send one message now (an event, or a reply built outside the protocol)."""
        self.protocol.send(message)
        self.flush()

    def finish(self, request: Request, result: dict[str, Any] | None = None, error: Any = None) -> None:
        """Answer ``request`` (see :meth:`Protocol.finish`) and write the reply."""
        self.protocol.finish(request, result, error)
        self.flush()

    def flush(self) -> None:
        """Write every frame the protocol has produced."""
        with self._write_lock:
            data = self.protocol.data_to_send()
            if not data or self.broken:
                return
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self.fd, view) :]
            except OSError as exc:
                self.broken = True  # the browser has gone; nothing more can be said
                log(f"the browser closed the channel ({exc.strerror or type(exc).__name__})")


# --- dispatch --------------------------------------------------------------------------------------------


def _internal_error(request: Request, exc: BaseException) -> Any:
    """A bug: log where (not what: messages may hold secrets) and answer ``internal_error``."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?"
    log(f"internal error in {request.method}: {type(exc).__name__} at {where}")
    return Tracker2faError("the host hit an internal error; see its log", code="internal_error")


def run_request(session: Any, request: Request, channel: Channel) -> None:
    """Run one request with the session and send its reply."""
    result = error = None
    try:
        result = session.call(request.method, request.params, request.cancelled, request_id=request.id)
    except Tracker2faError as exc:
        error = exc
    except Exception as exc:
        error = _internal_error(request, exc)
    channel.finish(request, result, error)


class Dispatcher(threading.Thread):
    """Runs requests one at a time, in arrival order, and hands each reply to the channel.

    A concurrent request (a security-key ceremony, which may wait minutes for a touch) is started on a
    worker thread of its own instead, at most :data:`MAX_CONCURRENT` at once. The queue is bounded
    (:data:`QUEUE_LIMIT`): :meth:`submit` blocks the reader while it is full.
    """

    def __init__(self, session: Any, channel: Channel, limit: int = QUEUE_LIMIT) -> None:
        super().__init__(name="dispatcher", daemon=True)
        self.session = session
        self.channel = channel
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=limit)
        self.workers: list[threading.Thread] = []

    def submit(self, request: Request) -> None:
        """Queue ``request``; waits while the queue is full (the reader then reads nothing more)."""
        self.queue.put(request)

    def stop(self, *, wait: bool = True) -> None:
        """Ask the dispatcher to finish after the queued requests; ``wait=False`` gives up if the queue is full."""
        with contextlib.suppress(queue.Full):
            self.queue.put(_STOP, block=wait)

    def run(self) -> None:
        call, finish, get = self.session.call, self.channel.finish, self.queue.get
        while (request := get()) is not _STOP:
            if request.concurrent:
                self._start_worker(request)
                continue
            # run_request, inlined: this loop is the host's hot path
            result = error = None
            try:
                result = call(request.method, request.params, request.cancelled, request_id=request.id)
            except Tracker2faError as exc:
                error = exc
            except Exception as exc:
                error = _internal_error(request, exc)
            finish(request, result, error)

    def _start_worker(self, request: Request) -> None:
        self.workers = [w for w in self.workers if w.is_alive()]
        if len(self.workers) >= MAX_CONCURRENT:
            busy = Tracker2faError(f"at most {MAX_CONCURRENT} such requests may run at once; cancel one first",
                                   code="busy")
            self.channel.finish(request, error=busy)
            return
        worker = threading.Thread(target=run_request, args=(self.session, request, self.channel),
                                  name=f"worker {request.method}", daemon=True)
        self.workers.append(worker)
        worker.start()

    def join_workers(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds in all for the concurrent requests to end (they were cancelled)."""
        import time

        deadline = time.monotonic() + timeout
        for worker in self.workers:
            worker.join(max(0.0, deadline - time.monotonic()))


class _Terminated(Exception):
    """SIGTERM (Firefox stops hosts this way): finish the current request, then exit."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated


def _wake_on_signals() -> int | None:
    """A pipe the signal machinery writes to on SIGTERM; returns its read end (None where unsupported).

    A SIGTERM that arrives just before the main thread enters read() would otherwise go unnoticed until
    the next byte from the browser: the main thread waits on this pipe as well as on stdin.
    """
    if sys.platform == "win32":
        return None
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    return read_end


def serve(fd_in: int, channel: Channel, dispatcher: Dispatcher, wake_fd: int | None = None) -> int:
    """Read until EOF or a protocol violation, feeding the protocol and queueing its requests; return the
    exit status.

    With ``wake_fd`` (see :func:`_wake_on_signals`) the wait also ends when a signal arrives, so that its
    Python handler runs at once.
    """
    protocol = channel.protocol
    while True:
        if wake_fd is not None:
            ready, _, _ = select.select([fd_in, wake_fd], [], [])
            if wake_fd in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_fd, 512)  # the handler itself runs between bytecodes, right about now
            if fd_in not in ready:
                continue
        try:
            data = os.read(fd_in, READ_SIZE)
        except InterruptedError:
            continue
        except OSError as exc:
            log(f"cannot read from the browser ({exc.strerror}); exiting")
            return EXIT_PROTOCOL
        try:
            if not data:
                protocol.receive_eof()
                return EXIT_EOF
            answered = protocol.receive_data(data)
        except (FrameTooLarge, TruncatedFrame) as exc:
            log(f"{exc}; exiting")
            return EXIT_PROTOCOL
        if answered:  # bad frames, malformed requests, cancel: answered by the protocol itself
            channel.flush()
        for request in protocol.requests_received():
            dispatcher.submit(request)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tracker2fa-host`` console script."""
    out_fd = protect_stdout()
    argv = list(sys.argv if argv is None else argv)
    from .api import CONCURRENT_METHODS  # the method table module: cheap, the vault and fido load lazily

    channel = Channel(Protocol(concurrent_methods=CONCURRENT_METHODS, log=log), out_fd)
    try:
        return _run(argv, channel)
    except KeyboardInterrupt:
        return EXIT_EOF
    except Exception as exc:  # never a traceback on the protocol channel; one line in the log
        log(f"fatal: {type(exc).__name__}")
        return EXIT_REFUSED


def _run(argv: list[str], channel: Channel) -> int:
    from .config import ConfigError, load_config

    try:
        config = load_config()
    except ConfigError as exc:
        log(f"refusing to serve: {exc.message}")
        channel.send(error_reply(None, "forbidden_caller", f"the host configuration is broken: {exc.message}"))
        return EXIT_REFUSED
    caller, reason = check_caller(argv, config)
    if reason:
        log(f"refusing to serve: {reason}")
        channel.send(error_reply(None, "forbidden_caller", reason))
        return EXIT_REFUSED
    assert caller is not None
    log(f"serving {caller.browser} extension {caller.extension_id}")

    from .api import Session

    session = Session(config, channel.send)
    dispatcher = Dispatcher(session, channel)
    dispatcher.start()
    on_main = threading.current_thread() is threading.main_thread()
    try:
        wake_fd = None
        if on_main:
            signal.signal(signal.SIGTERM, _on_sigterm)
            wake_fd = _wake_on_signals()
        status = serve(0, channel, dispatcher, wake_fd)
        terminated = False
    except _Terminated:
        log("terminated by the browser")
        channel.protocol.cancel_all()
        status, terminated = EXIT_EOF, True
    if on_main:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if terminated:
        # Let the request in progress finish if it can; a dispatcher blocked writing to a browser that no
        # longer reads would otherwise keep the host alive for ever (it is a daemon thread: exiting ends it).
        dispatcher.stop(wait=False)
        dispatcher.join(TERM_GRACE_SECONDS)
    else:
        # EOF: the queued requests still get their replies (the browser may be reading), then we leave; a
        # security-key ceremony would wait for a touch nobody will see, so those are cancelled.
        channel.protocol.cancel_all(concurrent_only=True)
        dispatcher.stop()
        dispatcher.join()
    dispatcher.join_workers(TERM_GRACE_SECONDS)
    session.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
