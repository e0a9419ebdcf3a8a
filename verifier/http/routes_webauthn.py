"""WebAuthn: registration and authentication ceremonies (begin returns options and a state id)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from ..service import results
from .deps import VerifierDep
from .errors import AUTH_RESPONSES, ERROR_RESPONSES
from .fast_path import ceremony_reply, hot_verifier, run_service, verify_reply
from .models import (
    Credential,
    VerifyReply,
    WebAuthnAuthenticateComplete,
    WebAuthnBegin,
    WebAuthnOptions,
    WebAuthnRegisterComplete,
)
from .security import require_service

router = APIRouter(prefix="/v1/webauthn", tags=["webauthn"], dependencies=[Depends(require_service)],
                   responses={**ERROR_RESPONSES, **AUTH_RESPONSES})


@router.post("/register/begin", response_model=WebAuthnOptions)
def register_begin(body: WebAuthnBegin, v: VerifierDep) -> results.CeremonyStart:
    """Creation options for navigator.credentials.create() and a single-use state id."""
    return v.webauthn_register_begin(body.username, body.origin)


@router.post("/register/complete", response_model=Credential)
def register_complete(body: WebAuthnRegisterComplete, v: VerifierDep) -> results.CredentialInfo:
    """Verify the new credential and store it under ``name``."""
    return v.webauthn_register_complete(body.username, body.state_id, body.credential, body.name, body.ip,
                                        body.user_agent or None)


@router.post("/authenticate/begin", response_model=WebAuthnOptions)
async def authenticate_begin(body: WebAuthnBegin, request: Request) -> Response:
    """Request options for navigator.credentials.get() and a single-use state id."""
    v = hot_verifier(request)
    return ceremony_reply(await run_service(v, v.webauthn_authenticate_begin, body.username, body.origin))


@router.post("/authenticate/complete", response_model=VerifyReply)
async def authenticate_complete(body: WebAuthnAuthenticateComplete, request: Request) -> Response:
    """Verify the assertion, then the sign counter."""
    v = hot_verifier(request)
    return verify_reply(await run_service(v, v.webauthn_authenticate_complete, body.username, body.state_id,
                                          body.credential, body.ip, body.user_agent))
