"""The account page group: the authenticator app, backup codes and remembered devices of the signed-in user.

Security keys, also listed on the account page, have their own router (security_keys.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from ...core.notices import INFORMATIONAL
from .. import pages
from ..messages import ENTER_CODE, OTP_RE, result_message, without_spaces
from ..sessions import LoginState
from ..visit import DEVICE_COOKIE, Visit, page

router = APIRouter(prefix="/account")
# Anyone not signed in is sent to the login page, whatever their half-finished login.
Account = Annotated[Visit, page(LoginState.AUTHENTICATED, elsewhere="/login")]
AccountForm = Annotated[Visit, page(LoginState.AUTHENTICATED, csrf=True, elsewhere="/login")]


@router.get("")
def account(visit: Account) -> Response:
    status = visit.verifier.user_status(visit.username)
    keys = visit.verifier.list_credentials(visit.username)
    return visit.html(pages.account_page(visit.csrf, visit.username, status, keys, flash=visit.session.take_flash(),
                                         admin=visit.is_admin, mail=visit.verifier.mail_prefs(visit.username)))


@router.get("/totp")
def account_totp_form(visit: Account) -> Response:
    enrolment = visit.verifier.totp_enroll_begin(visit.username)
    return visit.html(pages.account_totp_page(visit.csrf, visit.username, enrolment, admin=visit.is_admin))


@router.post("/totp")
def account_totp(visit: AccountForm, code: Annotated[str, Form()] = "") -> Response:
    code = without_spaces(code)
    result = None
    if OTP_RE.match(code):
        result = visit.verifier.totp_enroll_confirm(visit.username, code, visit.ip, visit.user_agent)
        if result.ok:
            visit.session.flash = "Authenticator app turned on."
            return visit.redirect("/account")
    error = result_message(result) if result else ENTER_CODE
    enrolment = visit.verifier.totp_enroll_begin(visit.username)
    page_html = pages.account_totp_page(visit.csrf, visit.username, enrolment, error=error, admin=visit.is_admin)
    return visit.html(page_html, 400 if result is None else 401)


@router.post("/totp/remove")
def account_totp_remove(visit: AccountForm) -> Response:
    visit.verifier.totp_remove(visit.username, actor=visit.username, ip=visit.ip, user_agent=visit.user_agent)
    visit.session.flash = "Authenticator app removed."
    return visit.redirect("/account")


@router.post("/backup-codes")
def account_backup_codes(visit: AccountForm) -> Response:
    visit.session.pending_backup_codes = list(visit.verifier.generate_backup_codes(
        visit.username, actor=visit.username, ip=visit.ip, user_agent=visit.user_agent))
    return visit.redirect("/backup-codes")


@router.post("/devices/revoke")
def account_revoke_devices(visit: AccountForm) -> Response:
    visit.verifier.revoke_devices(visit.username, actor=visit.username, ip=visit.ip, user_agent=visit.user_agent)
    visit.session.flash = "Every remembered device has been forgotten."
    response = visit.redirect("/account")
    response.delete_cookie(DEVICE_COOKIE, path="/")
    return response


@router.post("/notifications")
def account_notifications(visit: AccountForm, language: Annotated[str, Form()] = "",
                          wanted: Annotated[list[str], Form()] = []) -> Response:  # noqa: B006 (FastAPI copies it)
    # Only informational notices can be switched off: a security one in the form is refused (verifier_refused)
    visit.verifier.set_mail_prefs(visit.username, language, [k for k in INFORMATIONAL if k not in wanted],
                                  actor=visit.username)
    visit.session.flash = "Notifications saved."
    return visit.redirect("/account")
