"""``/ws/audit``: audit events streamed live to admins (bearer token in the header or ``?token=``).

The events come from the database, so a feed served by one worker or node carries every worker's and
node's rows (see docs/scaling.md).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, WebSocket

from ..audit_feed import newest_audit_id, stream_audit
from .security import bearer, token_ok

router = APIRouter()


@router.websocket("/ws/audit")
async def audit_stream(websocket: WebSocket) -> None:
    """Send each new audit event as one JSON text message; close 1008 without a valid admin token."""
    settings = websocket.app.state.api_settings
    presented = bearer(websocket.headers.get("authorization")) or websocket.query_params.get("token")
    if not token_ok(presented, settings.admin_token):
        await websocket.close(code=1008)
        return
    verifier = websocket.app.state.verifier
    start = await asyncio.to_thread(newest_audit_id, verifier)  # before accept: what follows the open is sent
    await websocket.accept()
    await stream_audit(websocket, verifier, after_id=start)
