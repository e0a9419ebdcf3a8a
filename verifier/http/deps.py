"""Shared FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..service import Verifier


async def get_verifier(request: Request) -> Verifier:
    """The app's Verifier (async: a sync dependency would cost a thread-pool hop per request)."""
    return request.app.state.verifier


VerifierDep = Annotated[Verifier, Depends(get_verifier)]
