"""Per-user resources the tracker needs: status, policy decision, security keys, remembered devices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from ..service import results
from .deps import VerifierDep
from .errors import AUTH_RESPONSES, ERROR_RESPONSES
from .models import (
    Count,
    Credential,
    CredentialRename,
    DeviceCheck,
    DeviceRemember,
    DeviceToken,
    MailPrefsChange,
    MailPrefsReply,
    RequiredReply,
    RequiredRequest,
    UserStatus,
)
from .security import require_service

router = APIRouter(prefix="/v1", tags=["users"], dependencies=[Depends(require_service)],
                   responses={**ERROR_RESPONSES, **AUTH_RESPONSES})
UsernameP = Annotated[str, Path(min_length=1, max_length=150, pattern=r"^[^\s]+$")]
CredentialP = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/users/{username}/status", response_model=UserStatus)
def status(username: UsernameP, v: VerifierDep) -> results.UserStatus:
    """Enrolled factors, backup codes left, whether the policy asks for a second factor, lock state."""
    return v.user_status(username)


@router.post("/users/{username}/second-factor-required", response_model=RequiredReply)
def second_factor_required(body: RequiredRequest, username: UsernameP,
                           v: VerifierDep) -> dict[str, bool]:
    """Policy, exclusion and IP allowlist applied to this user and client IP."""
    return {"required": v.second_factor_required(username, body.ip)}


@router.get("/users/{username}/credentials", response_model=list[Credential])
def credentials(username: UsernameP, v: VerifierDep) -> list[results.CredentialInfo]:
    """The user's security keys."""
    return v.list_credentials(username)


@router.patch("/users/{username}/credentials/{credential_id}", response_model=Credential)
def rename_credential(body: CredentialRename, username: UsernameP, credential_id: CredentialP,
                      v: VerifierDep) -> results.CredentialInfo:
    """Rename a security key."""
    return v.rename_credential(username, credential_id, body.name)


@router.delete("/users/{username}/credentials/{credential_id}", status_code=204, response_class=Response)
def remove_credential(username: UsernameP, credential_id: CredentialP,
                      v: VerifierDep) -> Response:
    """Remove a security key."""
    v.remove_credential(username, credential_id, actor=username)
    return Response(status_code=204)


@router.get("/users/{username}/notifications", response_model=MailPrefsReply)
def mail_prefs(username: UsernameP, v: VerifierDep) -> results.MailPrefs:
    """Where the user's notices go, their language, and the informational ones they switched off."""
    return v.mail_prefs(username)


@router.put("/users/{username}/notifications", response_model=MailPrefsReply)
def set_mail_prefs(body: MailPrefsChange, username: UsernameP, v: VerifierDep) -> results.MailPrefs:
    """The user's own choices: the language of their mail, the informational notices they do not want (a
    security notice cannot be switched off: 400)."""
    return v.set_mail_prefs(username, body.language, body.off, actor=username)


@router.post("/devices/remember", response_model=DeviceToken)
def remember_device(body: DeviceRemember, v: VerifierDep) -> dict[str, str]:
    """A device token for the policy's remember_days (400 when the policy turns it off)."""
    return {"token": v.remember_device(body.username, body.ip, body.user_agent)}


@router.post("/devices/check", response_model=DeviceToken)
def check_device(body: DeviceCheck, v: VerifierDep) -> dict[str, str | None]:
    """The rotated token when the presented one is live (the old one stops working), else null."""
    return {"token": v.check_device(body.username, body.token)}


@router.delete("/users/{username}/devices", response_model=Count)
def revoke_devices(username: UsernameP, v: VerifierDep) -> dict[str, int]:
    """Forget every remembered device of the user."""
    return {"count": v.revoke_devices(username, actor=username)}
