"""``/ws/audit``: audit events streamed live to admins (bearer token in the header or ``?token=``)."""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from .security import bearer, token_ok

router = APIRouter()
QUEUE_LIMIT = 1000


@router.websocket("/ws/audit")
async def audit_stream(websocket: WebSocket) -> None:
    """Send each new audit event as one JSON text message; close 1008 without a valid admin token."""
    settings = websocket.app.state.api_settings
    presented = bearer(websocket.headers.get("authorization")) or websocket.query_params.get("token")
    if not token_ok(presented, settings.admin_token):
        await websocket.close(code=1008)
        return
    await websocket.accept()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict] = asyncio.Queue(maxsize=QUEUE_LIMIT)

    def publish(event: dict) -> None:
        def put() -> None:
            with contextlib.suppress(asyncio.QueueFull):  # a stalled admin page loses events, not the server
                queue.put_nowait(event)

        with contextlib.suppress(RuntimeError):  # loop closed: the socket is gone
            loop.call_soon_threadsafe(put)

    unsubscribe = websocket.app.state.verifier.subscribe_audit(publish)
    receiver = asyncio.ensure_future(websocket.receive())
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                getter.cancel()
                if receiver.result()["type"] == "websocket.disconnect":
                    break
                receiver = asyncio.ensure_future(websocket.receive())  # ignore whatever the client sends
                continue
            await websocket.send_text(json.dumps(getter.result()))
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        unsubscribe()
        receiver.cancel()
