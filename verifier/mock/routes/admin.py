"""The admin page group: policy, users, resets, exclusions and the live activity feed (admin groups only)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, WebSocket
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...audit_feed import stream_audit
from ...core.audit import AuditEvent
from ...core.notices import KINDS
from ...mail.recipients import default_recipients
from ...mail.sender import Withheld, compose
from ...service import UserStatus, Verifier
from ...service.notices import outbox_mail
from ...settings import MailSettings
from .. import pages
from ..sessions import LoginState
from ..visit import SESSION_COOKIE, Visit, mock_context, page, page_origin

router = APIRouter(prefix="/admin")
Admin = Annotated[Visit, page(LoginState.AUTHENTICATED, admin=True)]
AdminForm = Annotated[Visit, page(LoginState.AUTHENTICATED, csrf=True, admin=True)]
FEED_LENGTH = 50
OUTBOX_LENGTH = 50
# What the outbox preview renders with when the mock runs no sender (the sink was not available).
PREVIEW_MAIL = MailSettings(host="localhost", from_address="jibra@example.com", from_name="Jibra")


def known_users(v: Verifier) -> list[UserStatus]:
    """Every user's status, for the users table."""
    return [v.user_status(name) for name in v.list_users()]


def recent_events(v: Verifier) -> list[AuditEvent]:
    """The latest audit events, newest first (as the live lines arrive on top)."""
    return list(reversed(v.audit(limit=FEED_LENGTH)))


@router.get("")
def admin(visit: Admin) -> Response:
    v = visit.verifier
    page_html = pages.admin_page(visit.csrf, visit.username, v.get_policy(), known_users(v), recent_events(v),
                                 flash=visit.session.take_flash(), notices=v.notice_settings(),
                                 outbox=v.outbox(limit=OUTBOX_LENGTH), outbox_counts=v.outbox_counts(),
                                 mail_note=getattr(visit.request.app.state, "mail_note", ""))
    return visit.html(page_html)


@router.post("/policy")
def admin_policy(visit: AdminForm, mode: Annotated[str, Form()] = "all", groups: Annotated[str, Form()] = "",
                 ip_allowlist: Annotated[str, Form()] = "", remember_days: Annotated[str, Form()] = "0",
                 totp_digits: Annotated[str, Form()] = "", totp_period: Annotated[str, Form()] = "",
                 totp_algorithm: Annotated[str, Form()] = "", totp_window: Annotated[str, Form()] = "",
                 issuer: Annotated[str, Form()] = "", enrol_deadline: Annotated[str, Form()] = "") -> Response:
    group_list = [g.strip() for g in groups.split(",") if g.strip()]
    nets = [n.strip() for n in ip_allowlist.split() if n.strip()]
    try:
        days = whole_number("Remember a device for", remember_days)
        # A number the form left empty is kept (the verifier checks the ranges and names them); an empty issuer
        # is the tracker's name (FastAPI reads an empty field as a missing one, so the two cannot differ).
        totp = {name: whole_number(label, text) if text.strip() else None for name, label, text in (
            ("totp_digits", "Code digits", totp_digits), ("totp_period", "Code period", totp_period),
            ("totp_window", "Accepted window", totp_window))}
        deadline = end_of_day(enrol_deadline) if enrol_deadline.strip() else 0  # 0: no deadline
    except ValueError as exc:
        visit.session.flash = f"Policy not saved: {exc}"
    else:  # a policy the verifier refuses (InvalidPolicy) is the app's verifier_refused flash
        visit.verifier.set_policy(mode, group_list, nets, days, actor=visit.username, **totp,
                                  totp_algorithm=totp_algorithm or None, issuer=issuer, enrol_deadline=deadline)
        visit.session.flash = "Policy saved."
    return visit.redirect("/admin")


def end_of_day(text: str) -> float:
    """A form's date (YYYY-MM-DD) as the unix time of its last second, UTC; raises ValueError."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"a date must be YYYY-MM-DD, got {text.strip()[:20]!r}") from None
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC).timestamp()


def whole_number(label: str, text: str) -> int:
    """A form's number field; raises ValueError naming the field."""
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{label} must be a whole number, got {text.strip()[:20]!r}") from None


@router.post("/reset-user")
def admin_reset_user(visit: AdminForm, username: Annotated[str, Form()] = "") -> Response:
    visit.verifier.reset_user(username, actor=visit.username)  # an unknown user: verifier_refused's flash
    visit.session.flash = f"Every factor of {username} has been reset."
    return visit.redirect("/admin")


@router.post("/unlock")
def admin_unlock(visit: AdminForm, username: Annotated[str, Form()] = "") -> Response:
    visit.verifier.unlock(username, actor=visit.username)
    visit.session.flash = f"{username} is unlocked."
    return visit.redirect("/admin")


@router.post("/revoke-devices")
def admin_revoke_devices(visit: AdminForm, username: Annotated[str, Form()] = "") -> Response:
    visit.verifier.revoke_devices(username, actor=visit.username)
    visit.session.flash = f"Remembered devices of {username} forgotten."
    return visit.redirect("/admin")


@router.post("/revoke-sessions")
def admin_revoke_sessions(visit: AdminForm, username: Annotated[str, Form()] = "") -> Response:
    count = visit.verifier.revoke_sessions(username, actor=visit.username)  # unknown user: verifier_refused
    visit.session.flash = f"{count} gate sessions of {username} ended: the gate refuses them at their next request."
    return visit.redirect("/admin")


@router.post("/email")
def admin_email(visit: AdminForm, username: Annotated[str, Form()] = "",
                email: Annotated[str, Form()] = "") -> Response:
    # an unknown user or a bad address: verifier_refused's flash, naming what is wrong
    prefs = visit.verifier.set_email(username.strip(), email.strip() or None, actor=visit.username)
    visit.session.flash = f"Mail for {username.strip()} goes to {prefs.email}." if prefs.email else \
        f"{username.strip()} has no mail address now."
    return visit.redirect("/admin")


@router.post("/notifications")
def admin_notifications(visit: AdminForm, enabled: Annotated[str, Form()] = "",
                        sent: Annotated[list[str], Form()] = [],  # noqa: B006 (FastAPI copies form defaults)
                        language: Annotated[str, Form()] = "en", timezone: Annotated[str, Form()] = "UTC",
                        reminder_days: Annotated[str, Form()] = "7", account_url: Annotated[str, Form()] = "",
                        contact: Annotated[str, Form()] = "") -> Response:
    try:
        days = whole_number("Enrolment reminder", reminder_days)
    except ValueError as exc:
        visit.session.flash = f"Notifications not saved: {exc}"
        return visit.redirect("/admin")
    # a setting the verifier refuses (BadRequest): verifier_refused's flash
    visit.verifier.update_notice_settings(actor=visit.username, enabled=enabled == "on",
                                          off=[kind for kind in KINDS if kind not in sent], language=language,
                                          timezone=timezone.strip() or "UTC", reminder_days=days,
                                          account_url=account_url.strip(), contact=contact.strip())
    visit.session.flash = "Notifications saved."
    return visit.redirect("/admin")


@router.get("/outbox/{mail_id}")
def admin_outbox_mail(visit: Admin, mail_id: int) -> Response:
    """One mail of the outbox as its recipient reads it (rendered as the sender renders it)."""
    v = visit.verifier
    row = v.store.get_mail(mail_id)
    if row is None:
        visit.session.flash = f"There is no mail {mail_id} in the outbox."
        return visit.redirect("/admin")
    mail = getattr(visit.request.app.state, "mail_settings", None) or PREVIEW_MAIL
    user = v.store.mail_users([row["username"]]).get(row["username"])
    composed = compose(row, user, v.notice_settings(), mail, default_recipients())
    shown = outbox_mail(row)
    if isinstance(composed, Withheld):
        return visit.html(pages.outbox_mail_page(visit.csrf, visit.username, shown, "Not sent",
                                                 composed.recipient or "-", composed.reason))
    text = composed.message.get_body(("plain",)).get_content()
    return visit.html(pages.outbox_mail_page(visit.csrf, visit.username, shown, str(composed.message["Subject"]),
                                             composed.recipient, text))


@router.post("/reset-group")
def admin_reset_group(visit: AdminForm, group: Annotated[str, Form()] = "") -> Response:
    group = group.strip()
    if not group:
        visit.session.flash = "Name the group to reset."
    else:
        visit.verifier.reset_group(group, actor=visit.username)
        visit.session.flash = f"Every factor of group {group} has been reset."
    return visit.redirect("/admin")


@router.post("/exclude")
def admin_exclude(visit: AdminForm, username: Annotated[str, Form()] = "",
                  until: Annotated[str, Form()] = "") -> Response:
    try:
        day = dt.date.fromisoformat(until)
    except ValueError as exc:
        visit.session.flash = f"Exclusion not saved: {exc}"
    else:  # an unknown user: verifier_refused's flash
        until_ts = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC).timestamp()
        visit.verifier.exclude_user(username.strip(), until_ts, actor=visit.username)
        visit.session.flash = f"{username.strip()} is excluded from two-step verification until {until}."
    return visit.redirect("/admin")


@router.websocket("/ws")
async def admin_ws(websocket: WebSocket) -> None:
    """The live activity feed: each new audit event as one JSON message, for a signed-in admin's page."""
    mock = mock_context(websocket)
    session = mock.sessions.get(websocket.cookies.get(SESSION_COOKIE))
    # Same-origin check: a cookie alone would let another site open this socket (CSWSH).
    same_origin = websocket.headers.get("origin") == page_origin(websocket)
    if (session is None or session.state is not LoginState.AUTHENTICATED or not same_origin
            or not await run_in_threadpool(mock.is_admin, session.username or "")):
        await websocket.close(code=4403)
        return
    await websocket.accept()
    await stream_audit(websocket, mock.verifier)
