"""Backup codes: generate (shown once) and verify (single use)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ..service import results
from .deps import VerifierDep
from .errors import AUTH_RESPONSES, ERROR_RESPONSES
from .models import BackupCodes, BackupGenerate, CodeRequest, VerifyReply
from .security import require_service

router = APIRouter(prefix="/v1/backup-codes", tags=["backup codes"], dependencies=[Depends(require_service)],
                   responses={**ERROR_RESPONSES, **AUTH_RESPONSES})


@router.post("/generate", response_model=BackupCodes)
def generate(body: BackupGenerate, v: VerifierDep) -> dict[str, list[str]]:
    """Ten fresh codes; the previous set stops working (the user is mailed, never the codes)."""
    return {"codes": v.generate_backup_codes(body.username, actor=body.username, ip=body.ip,
                                             user_agent=body.user_agent or None)}


@router.post("/verify", response_model=VerifyReply)
def verify(body: CodeRequest, v: VerifierDep) -> results.VerifyResult:
    """Check a backup code (each works once)."""
    return v.verify_backup_code(body.username, body.code, body.ip, body.user_agent)
