"""Live audit events for WebSockets: the one bridge from the verifier's audit to an asyncio consumer.

The verifier publishes each audit event on whatever thread wrote it (a worker of the thread pool, a
CLI call, another request). The API's ``/ws/audit`` and the mock tracker's admin feed both stream those
events to browsers; they share this module so that the thread hand-over, the bounded queue and the
close handling exist once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:  # for the annotations only: the feed needs nothing of the verifier but subscribe_audit
    from .service import Verifier

QUEUE_LIMIT = 1000
AuditRecord = dict[str, Any]  # what Verifier.subscribe_audit hands its listeners (JSON-ready)
POLL_SECONDS = 0.25
# PostgreSQL hands out ids before commit, so a slow transaction can commit id N after N+1 is visible:
# each poll looks this many ids back and skips those already sent.
LOOKBACK_IDS = 256
POLL_PAGE = 10_000


@contextlib.contextmanager
def audit_queue(verifier: Verifier, limit: int = QUEUE_LIMIT) -> Iterator[asyncio.Queue[AuditRecord]]:
    """A queue on the running event loop that receives every audit event published while the block runs.

    A consumer that falls ``limit`` events behind loses the newest ones, never the server's memory.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[AuditRecord] = asyncio.Queue(maxsize=limit)

    def put(event: AuditRecord) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a stalled admin page loses events, not the server
            queue.put_nowait(event)

    def publish(event: AuditRecord) -> None:  # called on the publishing thread: never blocks it
        with contextlib.suppress(RuntimeError):  # the loop is closed: the socket is gone
            loop.call_soon_threadsafe(put, event)

    unsubscribe = verifier.subscribe_audit(publish)
    try:
        yield queue
    finally:
        unsubscribe()


def newest_audit_id(verifier: Verifier) -> int:
    """The id of the newest audit row (0 for none): where a database feed starts."""
    newest = verifier.audit(limit=1)
    return (newest[-1].id or 0) if newest else 0


@contextlib.contextmanager
def database_audit_queue(verifier: Verifier, after_id: int, *, interval: float = POLL_SECONDS,
                         limit: int = QUEUE_LIMIT) -> Iterator[asyncio.Queue[AuditRecord]]:
    """A queue that receives every audit row committed after ``after_id``, by whichever process wrote it.

    ``audit_queue`` sees only this process's events; behind ``serve --workers N`` or several nodes the
    rows come from everywhere, so the database (the one source of truth) is polled instead.
    """
    queue: asyncio.Queue[AuditRecord] = asyncio.Queue(maxsize=limit)

    async def poll() -> None:
        newest, sent = after_id, set[int]()
        while True:
            await asyncio.sleep(interval)
            floor = max(newest - LOOKBACK_IDS, after_id)
            for event in await asyncio.to_thread(verifier.audit, after_id=floor, limit=POLL_PAGE):
                if event.id is None or event.id in sent:
                    continue
                sent.add(event.id)
                newest = max(newest, event.id)
                with contextlib.suppress(asyncio.QueueFull):  # a stalled admin page loses events, not the server
                    queue.put_nowait(event.to_dict())
            sent = {i for i in sent if i > newest - LOOKBACK_IDS}

    task = asyncio.get_running_loop().create_task(poll())
    try:
        yield queue
    finally:
        task.cancel()


async def stream_audit(websocket: WebSocket, verifier: Verifier, *, after_id: int | None = None) -> None:
    """Send each new audit event to an accepted ``websocket`` as one JSON text message until it closes.

    With ``after_id`` the events come from the database (every process's rows after that id), else from
    this process's publisher. Whatever the client sends is read and ignored (reading is how a close is
    noticed).
    """
    feed = audit_queue(verifier) if after_id is None else database_audit_queue(verifier, after_id)
    with feed as queue:
        receiver = asyncio.ensure_future(websocket.receive())
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if receiver in done:
                    getter.cancel()
                    if receiver.result()["type"] == "websocket.disconnect":
                        break
                    receiver = asyncio.ensure_future(websocket.receive())
                    continue
                await websocket.send_text(json.dumps(getter.result()))
        except (WebSocketDisconnect, RuntimeError):  # the peer went away mid-send
            pass
        finally:
            receiver.cancel()
