"""The second-factor page group: the one-time code and the backup code (security keys: security_keys.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from .. import pages
from ..messages import BACKUP_RE, ENTER_CODE, OTP_RE, result_message, without_spaces
from ..sessions import LoginState
from ..visit import Visit, page

router = APIRouter()
Pending = Annotated[Visit, page(LoginState.SECOND_FACTOR)]
PendingForm = Annotated[Visit, page(LoginState.SECOND_FACTOR, csrf=True)]


def second_factor_html(visit: Visit, error: str | None) -> str:
    """The code page, offering only the factors the user has."""
    status = visit.verifier.user_status(visit.username)
    return pages.second_factor_page(visit.csrf, visit.username, error=error, has_totp=status.totp, keys=status.webauthn,
                                    backup_left=status.backup_codes_left)


def signed_in(visit: Visit, remember_device: bool) -> Response:
    """The second factor was accepted: sign the session in (and remember the browser when asked)."""
    username = visit.username
    visit.authenticate()
    response = visit.redirect("/dashboard")
    if remember_device:
        visit.remember_device(response, username)
    return response


@router.get("/2fa")
def second_factor_form(visit: Pending) -> Response:
    return visit.html(second_factor_html(visit, visit.session.take_flash()))


@router.post("/2fa")
def second_factor(visit: PendingForm, code: Annotated[str, Form()] = "",
                  remember: Annotated[str, Form()] = "") -> Response:
    code = without_spaces(code)
    if not OTP_RE.match(code):
        return visit.html(second_factor_html(visit, ENTER_CODE), 400)
    result = visit.verifier.verify_totp(visit.username, code, visit.ip, visit.user_agent)
    if not result.ok:
        return visit.html(second_factor_html(visit, result_message(result)), 401)
    return signed_in(visit, remember == "1")


@router.get("/2fa/backup")
def backup_form(visit: Pending) -> Response:
    return visit.html(pages.backup_code_page(visit.csrf, visit.username))


@router.post("/2fa/backup")
def backup(visit: PendingForm, code: Annotated[str, Form()] = "", remember: Annotated[str, Form()] = "") -> Response:
    code = without_spaces(code)
    if not BACKUP_RE.match(code):
        return visit.html(pages.backup_code_page(visit.csrf, visit.username, error="Enter one of your backup codes."),
                          400)
    result = visit.verifier.verify_backup_code(visit.username, code, visit.ip, visit.user_agent)
    if not result.ok:
        return visit.html(pages.backup_code_page(visit.csrf, visit.username, error=result_message(result)), 401)
    return signed_in(visit, remember == "1")
