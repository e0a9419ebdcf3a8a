"""Shared FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..service import Verifier


def get_verifier(request: Request) -> Verifier:
    """The app's Verifier."""
    return request.app.state.verifier


VerifierDep = Annotated[Verifier, Depends(get_verifier)]
