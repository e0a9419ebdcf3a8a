"""The login page group: the password step, cancel and logout, and the dashboard behind them."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from .. import pages
from ..messages import MAX_DEVICE_COOKIE, MAX_PASSWORD, MAX_USERNAME, login_lock_message
from ..sessions import LoginState
from ..visit import DEVICE_COOKIE, Visit, VisitDep, page

router = APIRouter()
FormVisit = Annotated[Visit, page(csrf=True)]
SignedIn = Annotated[Visit, page(LoginState.AUTHENTICATED)]


@router.get("/healthz")
def healthz() -> dict[str, bool]:
    return {"ok": True}


@router.get("/")
def root(visit: VisitDep) -> Response:
    return visit.redirect(visit.where_to())


@router.get("/login")
def login_form(visit: VisitDep) -> Response:
    if visit.session.state is LoginState.AUTHENTICATED:
        return visit.redirect("/dashboard")
    return visit.html(pages.login_page(visit.csrf, flash=visit.session.take_flash()))


@router.post("/login")
def login(visit: FormVisit, username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "") -> Response:
    username = username.strip()
    if not username or not password or len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
        page_html = pages.login_page(visit.csrf, error="Enter your username and password.", username=username)
        return visit.html(page_html, 400)
    checked = visit.verifier.verify_password(username, password, visit.ip, visit.user_agent)
    if not checked.ok:
        # Per user and per client IP, like the second factor: password guessing backs off too.
        locked = checked.reason == "locked"
        error = login_lock_message(checked) if locked else "Wrong username or password."
        return visit.html(pages.login_page(visit.csrf, error=error, username=username), 429 if locked else 401)
    session = visit.session
    session.username = username
    session.state = LoginState.SECOND_FACTOR
    session.login_started = time.time()
    visit.mock.sessions.rotate(session)
    return next_step(visit, username)


def next_step(visit: Visit, username: str) -> Response:
    """After the password: skip the second factor, take a remembered device, enrol, or ask (in that order)."""
    v = visit.verifier
    if not v.second_factor_required(username, visit.ip):
        visit.authenticate()
        return visit.redirect("/dashboard")
    device = visit.request.cookies.get(DEVICE_COOKIE)
    if device and len(device) <= MAX_DEVICE_COOKIE:
        rotated = v.check_device(username, device)
        if rotated:  # the old token dies; the browser keeps the new one
            visit.authenticate()
            response = visit.redirect("/dashboard")
            visit.set_device_cookie(response, rotated, max(1, visit.mock.remember_days() or 1))
            return response
    status = v.user_status(username)
    if not status.totp and not status.webauthn:
        visit.session.state = LoginState.ENROL
        return visit.redirect("/enrol")
    return visit.redirect("/2fa")


@router.post("/login/cancel")
def login_cancel(visit: FormVisit) -> Response:
    if visit.session.state is not LoginState.AUTHENTICATED:
        visit.restart()
    return visit.redirect(visit.where_to())


@router.post("/logout")
def logout(visit: FormVisit) -> Response:
    gate = visit.mock.behind_gate
    if gate is not None:  # the login is the gate's: so is the logout
        return visit.redirect(gate.logout_url or "/dashboard")
    visit.restart("You have been logged out.")
    return visit.redirect("/login")


@router.get("/dashboard")
def dashboard(visit: SignedIn) -> Response:
    return visit.html(pages.dashboard_page(visit.csrf, visit.username, flash=visit.session.take_flash(),
                                           admin=visit.is_admin))
