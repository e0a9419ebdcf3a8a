"""Map the verifier's errors (verifier/errors.py) to HTTP statuses with a ``{"error": {"code", "message"}}`` body."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..errors import (
    BadRequest,
    CredentialNotFound,
    PolicyConflict,
    UserExists,
    UserNotFound,
    VerifierError,
)
from .models import ErrorReply


class Unauthorized(VerifierError):
    """A valid bearer token is needed for this endpoint."""

    code = "unauthorized"


STATUS = ((Unauthorized, 401), (UserNotFound, 404), (CredentialNotFound, 404), (UserExists, 409),
          (PolicyConflict, 409), (BadRequest, 400))
ERROR_RESPONSES = {400: {"model": ErrorReply}, 404: {"model": ErrorReply}, 409: {"model": ErrorReply}}
AUTH_RESPONSES = {401: {"model": ErrorReply}, 403: {"model": ErrorReply}}


def status_for(exc: VerifierError) -> int:
    """The HTTP status of a domain error (500 for configuration and unexpected errors)."""
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_reply(status: int, code: str, message: str) -> JSONResponse:
    """A JSON error reply."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def install(app: FastAPI) -> None:
    """Register the exception handlers."""

    @app.exception_handler(VerifierError)
    async def domain_error(request: Request, exc: VerifierError) -> JSONResponse:
        return error_reply(status_for(exc), exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_details(exc.errors())}, status_code=422)


def validation_details(errors: object) -> list:
    """FastAPI's 422 details, minus any echoed input that JSON cannot carry (a NaN would turn a 422 into a 500)."""
    details = jsonable_encoder(errors)
    try:
        json.dumps(details, allow_nan=False)
    except ValueError:
        details = [{k: v for k, v in d.items() if k not in ("input", "ctx")} for d in details]
    return details
