"""The portal's pages: the first factor, then what the page asked for and the user's policy need.

    /                 login form, or onward for a live session (to ``rd``, or the second factor)
    /login            POST: the first factor (local password or LDAP) → a level-1 session
    /2fa              the second factor: TOTP code, security key (/2fa/webauthn/*), backup code (/2fa/backup)
    /enrol            first login with nothing enrolled while the policy asks: TOTP, then backup codes once
    /settings         security keys (/settings/keys/*) and new backup codes, for a signed-in user
    /logout           end the session on every site of the domain

After the first factor the portal asks for a second one only when the page the user came for (``rd``)
needs ``two_factor`` and the verifier's policy asks this user from this address; a remembered device
counts as one. Each factor that succeeds moves the session to a new token (rotation).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from ...core.sessions import Level
from ...errors import VerifierError
from ..directory import DirectoryUnavailable
from ..rules import Policy
from . import messages, pages
from .visit import Visit, VisitDep

log = logging.getLogger("tracker2fa.gate")
router = APIRouter()
FormText = Annotated[str, Form()]


def rd_query(rd: str | None) -> str:
    return f"?rd={quote(rd, safe='')}" if rd else ""


def done(visit: Visit, rd: str | None) -> Response:
    """Login finished for what ``rd`` needs: back there, or the portal's signed-in page."""
    if rd:
        return visit.redirect(rd)
    return visit.html(pages.signed_in_page(visit.username, visit.level))


def start_over(visit: Visit, rd: str | None) -> Response:
    """The session vanished mid-login (revoked, logged out elsewhere): log in again."""
    visit.end_session()
    return visit.html(pages.login_page(rd=rd, notice=messages.SESSION_GONE, directory=visit.ctx.directory.method),
                      401)


def onward(visit: Visit, rd: str | None) -> Response:
    """Where a live session goes next: ``rd`` when its level is enough there, else the second factor."""
    assert visit.row is not None
    if visit.row.level >= Level.TWO_FACTORS:
        return done(visit, rd)
    if visit.needed_policy(rd, visit.username, visit.row.groups) is not Policy.TWO_FACTOR:
        return done(visit, rd)
    v, user = visit.verifier, visit.username
    if not v.second_factor_required(user, visit.ip):  # the verifier's policy exempts this user here
        return done(visit, rd) if visit.upgrade("policy") else start_over(visit, rd)
    device = visit.device_token()
    if device:
        rotated = v.check_device(user, device)
        if rotated:
            if not visit.upgrade("device"):
                return start_over(visit, rd)
            visit.set_device_cookie(rotated)
            return done(visit, rd)
    status = v.user_status(user)
    if not status.totp and not status.webauthn:
        return visit.redirect("/enrol" + rd_query(rd))
    return visit.redirect("/2fa" + rd_query(rd))


def accept_second_factor(visit: Visit, method: str, remember: bool) -> bool:
    """A second factor was accepted: level 2 under a new token, and the device remembered when asked.
    False when the session was ended meanwhile."""
    username = visit.username
    if not visit.upgrade(method):
        return False
    if remember and visit.verifier.get_policy().remember_days > 0:
        visit.set_device_cookie(visit.verifier.remember_device(username, visit.ip, visit.user_agent))
    return True


def second_factor_done(visit: Visit, rd: str | None, method: str, remember: bool) -> Response:
    return done(visit, rd) if accept_second_factor(visit, method, remember) else start_over(visit, rd)


# ---- first factor ------------------------------------------------------------------------------------
@router.get("/")
def home(visit: VisitDep, rd: str | None = None) -> Response:
    checked = visit.checked_rd(rd)
    notice = messages.BAD_RD if rd and not checked else None
    if visit.row is None:
        return visit.html(pages.login_page(rd=checked, notice=notice, directory=visit.ctx.directory.method))
    return onward(visit, checked)


@router.post("/login")
def login(visit: VisitDep, username: FormText = "", password: FormText = "", rd: FormText = "") -> Response:
    checked = visit.checked_rd(rd)
    method = visit.ctx.directory.method
    username = username.strip()
    if not username or not password or len(username) > messages.MAX_USERNAME or \
            len(password) > messages.MAX_PASSWORD:
        return visit.html(pages.login_page(rd=checked, error="Enter your username and password.",
                                           username=username[:messages.MAX_USERNAME], directory=method), 400)
    try:
        attempt = visit.ctx.directory.authenticate(username, password, visit.ip, visit.user_agent)
    except DirectoryUnavailable as exc:
        log.error("LDAP directory unavailable: %s", exc)
        return visit.html(pages.login_page(rd=checked, error=messages.DIRECTORY_DOWN, username=username,
                                           directory=method), 503)
    if attempt.identity is None:
        locked = attempt.result.reason == "locked"
        return visit.html(pages.login_page(rd=checked, error=messages.login_refused(attempt.result),
                                           username=username, directory=method), 429 if locked else 401)
    visit.start_session(attempt.identity, Level.ONE_FACTOR, attempt.identity.method)
    return onward(visit, checked)


# ---- second factor -----------------------------------------------------------------------------------
def pending_login(visit: Visit, rd: str | None) -> Response | None:
    """The answer for a visit that is not half-way through a login (none, or already both factors)."""
    if visit.row is None:
        return visit.redirect("/" + rd_query(rd))
    if visit.row.level >= Level.TWO_FACTORS:
        return done(visit, rd)
    return None


def second_factor_html(visit: Visit, rd: str | None, error: str | None = None) -> str:
    status = visit.verifier.user_status(visit.username)
    return pages.second_factor_page(visit.username, rd=rd, error=error, has_totp=status.totp, keys=status.webauthn,
                                    backup_left=status.backup_codes_left,
                                    remember_days=visit.verifier.get_policy().remember_days)


@router.get("/2fa")
def second_factor_form(visit: VisitDep, rd: str | None = None) -> Response:
    checked = visit.checked_rd(rd)
    return pending_login(visit, checked) or visit.html(second_factor_html(visit, checked))


@router.post("/2fa")
def second_factor(visit: VisitDep, code: FormText = "", remember: FormText = "", rd: FormText = "") -> Response:
    checked = visit.checked_rd(rd)
    if (other := pending_login(visit, checked)) is not None:
        return other
    code = messages.without_spaces(code)
    if messages.OTP_RE.fullmatch(code) is None:
        return visit.html(second_factor_html(visit, checked, messages.ENTER_CODE), 400)
    result = visit.verifier.verify_totp(visit.username, code, visit.ip, visit.user_agent)
    if not result.ok:
        return visit.html(second_factor_html(visit, checked, messages.refused(result)), 401)
    return second_factor_done(visit, checked, "totp", remember == "1")


@router.get("/2fa/backup")
def backup_form(visit: VisitDep, rd: str | None = None) -> Response:
    checked = visit.checked_rd(rd)
    return pending_login(visit, checked) or visit.html(pages.backup_code_page(
        visit.username, rd=checked, remember_days=visit.verifier.get_policy().remember_days))


@router.post("/2fa/backup")
def backup(visit: VisitDep, code: FormText = "", remember: FormText = "", rd: FormText = "") -> Response:
    checked = visit.checked_rd(rd)
    if (other := pending_login(visit, checked)) is not None:
        return other
    days = visit.verifier.get_policy().remember_days
    code = messages.without_spaces(code)
    if messages.BACKUP_RE.fullmatch(code) is None:
        return visit.html(pages.backup_code_page(visit.username, rd=checked, remember_days=days,
                                                 error="Enter one of your backup codes."), 400)
    result = visit.verifier.verify_backup_code(visit.username, code, visit.ip, visit.user_agent)
    if not result.ok:
        return visit.html(pages.backup_code_page(visit.username, rd=checked, remember_days=days,
                                                 error=messages.refused(result)), 401)
    return second_factor_done(visit, checked, "backup_code", remember == "1")


async def json_body(request: Request) -> dict[str, Any] | None:
    """The body as a JSON object, or None (too big, not JSON, not an object, not sent as JSON)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return None
    raw = await request.body()
    if len(raw) > messages.MAX_JSON_BODY:
        return None
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


JsonBody = Annotated[dict[str, Any] | None, Depends(json_body)]


@router.post("/2fa/webauthn/begin")
def key_begin(visit: VisitDep) -> Response:
    if visit.row is None or visit.row.level >= Level.TWO_FACTORS:
        return visit.json({"ok": False, "reason": "state", "message": "Reload the page."}, 409)
    if not visit.verifier.user_status(visit.username).webauthn:
        return visit.json({"ok": False, "reason": "not_enrolled", "message": "No security key is registered."}, 409)
    start = visit.verifier.webauthn_authenticate_begin(visit.username, visit.domain.portal)
    visit.verifier.sessions.set_pending(visit.token or "", start.state_id)
    return visit.json({"ok": True, "options": start.options})


@router.post("/2fa/webauthn/complete")
def key_complete(visit: VisitDep, body: JsonBody) -> Response:
    if visit.row is None or visit.row.level >= Level.TWO_FACTORS:
        return visit.json({"ok": False, "reason": "state", "message": "Reload the page."}, 409)
    if body is None or not isinstance(body.get("credential"), dict):
        return visit.json({"ok": False, "reason": "bad_request", "message": "Malformed security-key answer."}, 400)
    rd = visit.checked_rd(body.get("rd") if isinstance(body.get("rd"), str) else None)
    state_id = visit.row.pending
    if not state_id or not visit.verifier.sessions.take_pending(visit.token or "", state_id):
        return visit.json({"ok": False, "reason": "expired", "message": messages.KEY_RESULTS["expired"]}, 409)
    try:
        result = visit.verifier.webauthn_authenticate_complete(visit.username, state_id, body["credential"],
                                                               visit.ip, visit.user_agent)
    except VerifierError as exc:
        return visit.json({"ok": False, "reason": exc.code,
                           "message": f"The security key's answer was refused: {exc.message}"}, 400)
    if not result.ok:
        return visit.json({"ok": False, "reason": result.reason, "message": messages.refused(result, key=True)}, 401)
    if not accept_second_factor(visit, "webauthn", body.get("remember") is True):
        return visit.json({"ok": False, "reason": "state", "message": messages.SESSION_GONE}, 409)
    return visit.json({"ok": True, "redirect": rd or "/"})


# ---- first-login enrolment ---------------------------------------------------------------------------
def may_enrol(visit: Visit) -> bool:
    """Only a half-logged-in user with no factor at all, whom the policy asks: enrolling replaces a factor."""
    status = visit.verifier.user_status(visit.username)
    return not status.totp and not status.webauthn and visit.verifier.second_factor_required(visit.username,
                                                                                              visit.ip)


@router.get("/enrol")
def enrol_form(visit: VisitDep, rd: str | None = None) -> Response:
    checked = visit.checked_rd(rd)
    if (other := pending_login(visit, checked)) is not None:
        return other
    if not may_enrol(visit):
        return visit.redirect("/2fa" + rd_query(checked))
    enrolment = visit.verifier.totp_enroll_begin(visit.username)
    return visit.html(pages.enrol_page(visit.username, enrolment, rd=checked))


@router.post("/enrol")
def enrol(visit: VisitDep, code: FormText = "", rd: FormText = "") -> Response:
    checked = visit.checked_rd(rd)
    if (other := pending_login(visit, checked)) is not None:
        return other
    if not may_enrol(visit):
        return visit.redirect("/2fa" + rd_query(checked))
    code = messages.without_spaces(code)
    error = messages.ENTER_CODE
    if messages.OTP_RE.fullmatch(code):
        result = visit.verifier.totp_enroll_confirm(visit.username, code, visit.ip, visit.user_agent)
        if result.ok:
            codes = visit.verifier.generate_backup_codes(visit.username, actor="gate:enrolment")
            if not visit.upgrade("totp"):
                return start_over(visit, checked)
            return visit.html(pages.backup_codes_page(visit.username, codes, continue_to=checked or "/"))
        error = messages.refused(result)
    enrolment = visit.verifier.totp_enroll_begin(visit.username)
    return visit.html(pages.enrol_page(visit.username, enrolment, rd=checked, error=error), 401)


# ---- logout ------------------------------------------------------------------------------------------
@router.get("/logout")
def logout_form(visit: VisitDep, rd: str | None = None) -> Response:
    return visit.html(pages.logout_page(visit.username or None, rd=visit.checked_rd(rd)))


@router.post("/logout")
def logout(visit: VisitDep, rd: FormText = "") -> Response:
    visit.end_session()
    return visit.html(pages.logged_out_page(rd=visit.checked_rd(rd)))


# ---- settings: security keys and backup codes --------------------------------------------------------
def signed_in(visit: Visit) -> Response | None:
    if visit.row is None or visit.row.level < Level.TWO_FACTORS:
        return visit.redirect("/")
    return None


@router.get("/settings")
def settings(visit: VisitDep) -> Response:
    if (other := signed_in(visit)) is not None:
        return other
    status = visit.verifier.user_status(visit.username)
    return visit.html(pages.settings_page(visit.username, visit.verifier.list_credentials(visit.username),
                                          status.backup_codes_left))


@router.post("/settings/backup-codes")
def new_backup_codes(visit: VisitDep) -> Response:
    if (other := signed_in(visit)) is not None:
        return other
    codes = visit.verifier.generate_backup_codes(visit.username, actor=visit.username)
    return visit.html(pages.backup_codes_page(visit.username, codes, continue_to="/settings"))


@router.post("/settings/keys/begin")
def register_begin(visit: VisitDep) -> Response:
    if visit.row is None or visit.row.level < Level.TWO_FACTORS:
        return visit.json({"ok": False, "reason": "state", "message": "Log in again."}, 409)
    start = visit.verifier.webauthn_register_begin(visit.username, visit.domain.portal)
    visit.verifier.sessions.set_pending(visit.token or "", start.state_id)
    return visit.json({"ok": True, "options": start.options})


@router.post("/settings/keys/complete")
def register_complete(visit: VisitDep, body: JsonBody) -> Response:
    if visit.row is None or visit.row.level < Level.TWO_FACTORS:
        return visit.json({"ok": False, "reason": "state", "message": "Log in again."}, 409)
    if body is None or not isinstance(body.get("credential"), dict):
        return visit.json({"ok": False, "reason": "bad_request", "message": "Malformed security-key answer."}, 400)
    name = str(body.get("name") or "Security key").strip()[:64] or "Security key"
    state_id = visit.row.pending
    if not state_id or not visit.verifier.sessions.take_pending(visit.token or "", state_id):
        return visit.json({"ok": False, "reason": "expired", "message": messages.KEY_RESULTS["expired"]}, 409)
    try:
        visit.verifier.webauthn_register_complete(visit.username, state_id, body["credential"], name)
    except VerifierError as exc:
        return visit.json({"ok": False, "reason": exc.code,
                           "message": f"The key could not be registered: {exc.message}"}, 400)
    return visit.json({"ok": True, "redirect": "/settings"})
