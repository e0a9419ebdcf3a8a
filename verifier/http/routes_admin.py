"""Admin endpoints (bearer admin token): users, groups, policy, exclusions, resets, audit."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from ..core.audit import AuditEvent
from ..service import results
from .deps import VerifierDep
from .errors import AUTH_RESPONSES, ERROR_RESPONSES
from .models import (
    AuditReply,
    Count,
    CreateUser,
    Exclude,
    GateSessions,
    GroupReset,
    Groups,
    MailPrefsReply,
    NoticeSettingsModel,
    NoticeSettingsReply,
    OutboxReply,
    PolicyModel,
    PolicyReply,
    SetEmail,
    Unlock,
    UserList,
    UserStatus,
)
from .security import require_admin

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})
NameP = Annotated[str, Path(min_length=1, max_length=150, pattern=r"^[^\s]+$")]
AdminActor = Annotated[str, Depends(require_admin)]


@router.get("/users", response_model=UserList)
def list_users(actor: AdminActor, v: VerifierDep) -> dict[str, list[str]]:
    """All usernames."""
    return {"users": v.list_users()}


@router.post("/users", response_model=UserStatus, status_code=201)
def create_user(body: CreateUser, actor: AdminActor, v: VerifierDep) -> results.UserStatus:
    """Create a user (409 when the name is taken; 400 for an address that is not one plain mail address)."""
    return v.create_user(body.username, body.password, body.groups, actor=actor, email=body.email)


@router.put("/users/{username}/email", response_model=MailPrefsReply)
def set_email(body: SetEmail, username: NameP, actor: AdminActor, v: VerifierDep) -> results.MailPrefs:
    """Set (null: remove) where the user's notices go."""
    return v.set_email(username, body.email, actor=actor)


@router.put("/users/{username}/groups", response_model=UserStatus)
def set_groups(body: Groups, username: NameP, actor: AdminActor,
               v: VerifierDep) -> results.UserStatus:
    """Replace a user's groups."""
    return v.set_groups(username, body.groups, actor=actor)


@router.post("/users/{username}/exclude", response_model=UserStatus)
def exclude(body: Exclude, username: NameP, actor: AdminActor,
            v: VerifierDep) -> results.UserStatus:
    """Skip the user's second factor until a time (null ends it)."""
    return v.exclude_user(username, body.until, actor=actor)


@router.post("/users/{username}/reset", status_code=204, response_class=Response)
def reset_user(username: NameP, actor: AdminActor,
               v: VerifierDep) -> Response:
    """Remove all the user's factors, backup codes and devices, and lift its lock."""
    v.reset_user(username, actor=actor)
    return Response(status_code=204)


@router.post("/users/{username}/unlock", response_model=UserStatus)
def unlock(body: Unlock, username: NameP, actor: AdminActor, v: VerifierDep) -> results.UserStatus:
    """Lift the user's lockout (and, with ``ip``, that client IP's)."""
    v.unlock(username, body.ip, actor=actor)
    return v.user_status(username)


@router.get("/users/{username}/sessions", response_model=GateSessions)
def list_sessions(username: NameP, actor: AdminActor, v: VerifierDep) -> dict[str, list[results.SessionInfo]]:
    """The user's forward-auth gate sessions, oldest first (public ids; tokens are never shown)."""
    return {"sessions": v.list_sessions(username)}


@router.delete("/users/{username}/sessions", response_model=Count)
def revoke_sessions(username: NameP, actor: AdminActor, v: VerifierDep,
                    sid: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")] = None,
                    ) -> dict[str, int]:
    """End the user's gate sessions (or the one with public id ``sid``): every gate node refuses them at
    their next request."""
    return {"count": v.revoke_sessions(username, sid, actor=actor)}


@router.post("/groups/{group}/reset", response_model=GroupReset)
def reset_group(group: NameP, actor: AdminActor,
                v: VerifierDep) -> dict[str, list[str]]:
    """Reset every member of a group."""
    return {"users": v.reset_group(group, actor=actor)}


@router.get("/policy", response_model=PolicyReply)
def get_policy(actor: AdminActor, v: VerifierDep) -> results.PolicySettings:
    """The policy: who is asked, and the TOTP settings of new enrolments with the accepted window."""
    return v.get_policy()


@router.put("/policy", response_model=PolicyReply)
def set_policy(body: PolicyModel, actor: AdminActor, v: VerifierDep) -> results.PolicySettings:
    """Replace who is asked and change the TOTP settings given, keeping the others (400 ``invalid_policy``
    with the reason: a bad CIDR, a mode without groups, a TOTP setting out of its range)."""
    return v.set_policy(body.mode, body.groups, body.ip_allowlist, body.remember_days, actor=actor,
                        totp_digits=body.totp_digits, totp_period=body.totp_period,
                        totp_algorithm=body.totp_algorithm, totp_window=body.totp_window, issuer=body.issuer,
                        enrol_deadline=body.enrol_deadline)


@router.get("/notifications", response_model=NoticeSettingsReply)
def notice_settings(actor: AdminActor, v: VerifierDep) -> dict:
    """Mail to users: on or off, the notices switched off, language, time zone, reminder, account URL, contact."""
    return v.notice_settings().to_dict()


@router.put("/notifications", response_model=NoticeSettingsReply)
def set_notice_settings(body: NoticeSettingsModel, actor: AdminActor, v: VerifierDep) -> dict:
    """Change the mail settings given, keeping the others (400 naming a bad one)."""
    return v.update_notice_settings(actor=actor, **body.model_dump()).to_dict()


@router.get("/outbox", response_model=OutboxReply)
def outbox(actor: AdminActor, v: VerifierDep,
           status: Annotated[Literal["pending", "sent", "failed", "dropped"] | None, Query()] = None,
           username: Annotated[str | None, Query(max_length=150)] = None,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
    """The outbox, newest first (what each mail tells, never a secret), and how many mails are in each state."""
    return {"mails": v.outbox(status=status, username=username, limit=limit), "counts": v.outbox_counts()}


@router.get("/audit", response_model=AuditReply)
def audit(actor: AdminActor, v: VerifierDep,
          username: Annotated[str | None, Query(max_length=150)] = None,
          event: Annotated[str | None, Query(max_length=64)] = None,
          since: Annotated[float | None, Query(ge=0, le=1e11)] = None,
          until: Annotated[float | None, Query(ge=0, le=1e11)] = None,
          after_id: Annotated[int | None, Query(ge=0, le=2**62)] = None,
          limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> dict[str, list[AuditEvent]]:
    """Audit events matching every filter, oldest first (the newest ``limit``)."""
    return {"events": v.audit(username=username, event=event, since=since, until=until, after_id=after_id,
                              limit=limit)}
