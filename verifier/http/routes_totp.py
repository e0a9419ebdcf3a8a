"""TOTP: enrolment (begin, confirm) and verification."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from ..service import results
from .deps import VerifierDep
from .errors import AUTH_RESPONSES, ERROR_RESPONSES
from .fast_path import hot_verifier, run_service, verify_reply
from .models import CodeRequest, TotpEnrolment, UserRef, VerifyReply
from .security import require_service

router = APIRouter(prefix="/v1/totp", tags=["totp"], dependencies=[Depends(require_service)],
                   responses={**ERROR_RESPONSES, **AUTH_RESPONSES})


@router.post("/enrol/begin", response_model=TotpEnrolment)
def enrol_begin(body: UserRef, v: VerifierDep) -> results.TotpEnrolment:
    """A pending secret with its otpauth URI and QR code (SVG); reused until confirmed."""
    return v.totp_enroll_begin(body.username)


@router.post("/enrol/confirm", response_model=VerifyReply)
def enrol_confirm(body: CodeRequest, v: VerifierDep) -> results.VerifyResult:
    """Confirm the pending secret with its first valid code."""
    return v.totp_enroll_confirm(body.username, body.code, body.ip, body.user_agent)


@router.post("/verify", response_model=VerifyReply)
async def verify(body: CodeRequest, request: Request) -> Response:
    """Check a code: each time step is accepted once; failures are rate-limited."""
    v = hot_verifier(request)
    return verify_reply(await run_service(v, v.verify_totp, body.username, body.code, body.ip, body.user_agent))
