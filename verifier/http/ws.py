"""``/ws/audit``: audit events streamed live to admins (bearer token in the header or ``?token=``)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from ..audit_feed import stream_audit
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
    await websocket.accept()
    await stream_audit(websocket, websocket.app.state.verifier)
