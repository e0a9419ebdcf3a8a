"""Backup codes: generate (shown once) and verify (single use)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ..service import results
from .deps import VerifierDep
from .errors import AUTH_RESPONSES, ERROR_RESPONSES
from .models import BackupCodes, CodeRequest, UserRef, VerifyReply
from .security import require_service

router = APIRouter(prefix="/v1/backup-codes", tags=["backup codes"], dependencies=[Depends(require_service)],
                   responses={**ERROR_RESPONSES, **AUTH_RESPONSES})


@router.post("/generate", response_model=BackupCodes)
def generate(body: UserRef, v: VerifierDep) -> dict[str, list[str]]:
    """Ten fresh codes; the previous set stops working."""
    return {"codes": v.generate_backup_codes(body.username)}


@router.post("/verify", response_model=VerifyReply)
def verify(body: CodeRequest, v: VerifierDep) -> results.VerifyResult:
    """Check a backup code (each works once)."""
    return v.verify_backup_code(body.username, body.code, body.ip, body.user_agent)
