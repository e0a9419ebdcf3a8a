"""The enrolment page group: TOTP at the first login, and backup codes shown exactly once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from .. import pages
from ..messages import ENTER_CODE, OTP_RE, result_message, without_spaces
from ..sessions import LoginState
from ..visit import Visit, VisitDep, page

router = APIRouter()
Enrolling = Annotated[Visit, page(LoginState.ENROL)]
EnrollingForm = Annotated[Visit, page(LoginState.ENROL, csrf=True)]
FormVisit = Annotated[Visit, page(csrf=True)]


@router.get("/enrol")
def enrol_form(visit: Enrolling) -> Response:
    enrolment = visit.verifier.totp_enroll_begin(visit.username)
    return visit.html(pages.first_login_enrol_page(visit.csrf, visit.username, enrolment))


@router.post("/enrol")
def enrol(visit: EnrollingForm, code: Annotated[str, Form()] = "") -> Response:
    code = without_spaces(code)
    result = None
    if OTP_RE.match(code):
        result = visit.verifier.totp_enroll_confirm(visit.username, code, visit.ip, visit.user_agent)
        if result.ok:
            visit.session.pending_backup_codes = list(visit.verifier.generate_backup_codes(visit.username))
            visit.session.state = LoginState.SHOW_BACKUP
            visit.mock.sessions.rotate(visit.session)
            return visit.redirect("/backup-codes")
    error = result_message(result) if result else ENTER_CODE
    # A fresh secret each time the page is shown would confuse a user who already scanned it, so the
    # verifier keeps the pending secret; begin again returns the same pending enrolment or a new one.
    enrolment = visit.verifier.totp_enroll_begin(visit.username)
    page_html = pages.first_login_enrol_page(visit.csrf, visit.username, enrolment, error=error)
    return visit.html(page_html, 400 if result is None else 401)


@router.get("/backup-codes")
def backup_codes(visit: VisitDep) -> Response:
    session = visit.session
    if not session.pending_backup_codes:
        return visit.redirect(visit.where_to())
    codes, session.pending_backup_codes = session.pending_backup_codes, []
    next_url = "/account" if session.state is LoginState.AUTHENTICATED else "/dashboard"
    return visit.html(pages.backup_codes_page(visit.csrf, codes, next_url=next_url))


@router.post("/backup-codes/ack")
def backup_codes_ack(visit: FormVisit, next: Annotated[str, Form()] = "") -> Response:
    if visit.session.state is LoginState.SHOW_BACKUP:
        visit.authenticate()
    if visit.session.state is not LoginState.AUTHENTICATED:
        return visit.redirect(visit.where_to())
    return visit.redirect("/account" if next == "/account" else "/dashboard")  # never an open redirect
