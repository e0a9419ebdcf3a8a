"""The hot routes' service call and reply: no thread hop where the store answers at once, no reply model pass.

FastAPI runs a sync route in AnyIO's thread pool and then validates its return value against the reply
model in the pool again: two thread hand-offs, each costing more CPU than a SQLite read. The verification
routes are ``async`` instead and use these two helpers:

- :func:`run_service` calls the service on the event loop when the store says its calls are brief local
  I/O (SQLite: microseconds, its writers queue on a kernel lock), and in the thread pool otherwise
  (PostgreSQL: network round trips, which a worker overlaps by running requests on several threads);
- the replies are written from the typed results directly; the routes keep ``response_model`` for the
  OpenAPI document, and a test keeps each reply equal to what the model would have produced.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from ..service import Verifier
from ..service.results import CeremonyStart, VerifyResult

T = TypeVar("T")


def hot_verifier(request: Request) -> Verifier:
    """The app's Verifier, read directly: a FastAPI dependency for it costs more than the lookup itself.
    (The router's service-token dependency still runs for these routes.)"""
    return request.app.state.verifier


async def run_service(verifier: Verifier, call: Callable[..., T], *args: Any) -> T:
    """``call(*args)``: inline for a store whose calls never wait on a network, else in the thread pool."""
    if verifier.store.calls_are_brief:
        return call(*args)
    return await run_in_threadpool(call, *args)


def _json(data: Any) -> Response:
    return Response(json.dumps(data, separators=(",", ":"), allow_nan=False).encode(), media_type="application/json")


def verify_reply(result: VerifyResult) -> Response:
    """``VerifyReply``: ``{"ok", "reason", "retry_after"}``."""
    return _json({"ok": result.ok, "reason": result.reason, "retry_after": result.retry_after})


def ceremony_reply(start: CeremonyStart) -> Response:
    """``WebAuthnOptions``: ``{"options", "state_id"}``."""
    return _json({"options": start.options, "state_id": start.state_id})
