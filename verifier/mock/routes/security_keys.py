"""The security-key page group: WebAuthn at the second factor and on the account page, naming and removing keys.

The ceremonies are JSON calls from static/mock.js (CSRF token in the ``X-CSRF-Token`` header); the
verifier's single-use state id stays in the session, never in the page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from ...errors import VerifierError
from ...service import CeremonyStart
from ..messages import KEY_MESSAGES, MAX_KEY_NAME, result_message
from ..sessions import LoginState
from ..visit import Visit, ceremony, page, page_origin

MAX_JSON_BODY = 64 * 1024
DEFAULT_KEY_NAME = "Security key"

router = APIRouter()
LoginCeremony = Annotated[Visit, ceremony(LoginState.SECOND_FACTOR)]
RegisterCeremony = Annotated[Visit, ceremony(LoginState.AUTHENTICATED)]
AccountForm = Annotated[Visit, page(LoginState.AUTHENTICATED, csrf=True, elsewhere="/login")]
Begin = Callable[[str, str], CeremonyStart]


def json_object(raw: bytes) -> dict[str, Any] | None:
    """``raw`` as a JSON object (empty: ``{}``), or None when it is too big, not JSON or not an object."""
    if len(raw) > MAX_JSON_BODY:
        return None
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; deep nesting is not
        return None
    return body if isinstance(body, dict) else None


async def json_body(request: Request) -> dict[str, Any] | None:
    """The request's body as a JSON object (see :func:`json_object`)."""
    return json_object(await request.body())


Body = Annotated[dict[str, Any] | None, Depends(json_body)]


def error_code(exc: Exception) -> str:
    """The reason a page script sees for a refused ceremony."""
    return exc.code if isinstance(exc, VerifierError) else "bad_request"


def begin_ceremony(visit: Visit, begin: Begin) -> Response:
    """Start a WebAuthn ceremony; its single-use state id stays in the session, never in the page."""
    try:
        start = begin(visit.username, page_origin(visit.request))
    except VerifierError as exc:  # e.g. an origin the verifier does not serve: say so, never a 500
        return visit.json_error(400, exc.code, str(exc))
    visit.session.webauthn_state = start.state_id
    return visit.json({"ok": True, "options": start.options})


def take_state(visit: Visit, body: dict[str, Any] | None) -> str | None:
    """The ceremony's state id (gone from the session from now on), or None for a malformed answer."""
    if body is None or not isinstance(body.get("credential"), dict) or not visit.session.webauthn_state:
        return None
    state_id, visit.session.webauthn_state = visit.session.webauthn_state, None
    return state_id


def malformed(visit: Visit) -> Response:
    return visit.json_error(400, "bad_request", "Malformed security-key response.")


@router.post("/2fa/webauthn/begin")
def login_key_begin(visit: LoginCeremony) -> Response:
    if not visit.verifier.user_status(visit.username).webauthn:
        # Asking the browser anyway would leave it waiting for a key that can never answer.
        return visit.json_error(409, "not_enrolled", KEY_MESSAGES["not_enrolled"])
    return begin_ceremony(visit, visit.verifier.webauthn_authenticate_begin)


@router.post("/2fa/webauthn/complete")
def login_key_complete(visit: LoginCeremony, body: Body) -> Response:
    state_id = take_state(visit, body)
    if body is None or state_id is None:
        return malformed(visit)
    try:
        result = visit.verifier.webauthn_authenticate_complete(visit.username, state_id, body["credential"],
                                                               visit.ip, visit.user_agent)
    except Exception as exc:  # a malformed response must never become a 500
        return visit.json_error(400, error_code(exc), f"The security key's answer was rejected: {exc}")
    if not result.ok:
        return visit.json_error(401, result.reason, result_message(result, key=True))
    username = visit.username
    visit.authenticate()
    response = visit.json({"ok": True, "redirect": "/dashboard"})
    if body.get("remember") is True:
        visit.remember_device(response, username)
    return response


@router.post("/account/keys/begin")
def register_key_begin(visit: RegisterCeremony) -> Response:
    return begin_ceremony(visit, visit.verifier.webauthn_register_begin)


@router.post("/account/keys/complete")
def register_key_complete(visit: RegisterCeremony, body: Body) -> Response:
    name = str((body or {}).get("name") or DEFAULT_KEY_NAME).strip()[:MAX_KEY_NAME] or DEFAULT_KEY_NAME
    state_id = take_state(visit, body)
    if body is None or state_id is None:
        return malformed(visit)
    try:
        visit.verifier.webauthn_register_complete(visit.username, state_id, body["credential"], name, visit.ip,
                                                  visit.user_agent)
    except Exception as exc:  # a malformed response must never become a 500
        return visit.json_error(400, error_code(exc), f"The security key could not be registered: {exc}")
    visit.session.flash = f"Security key “{name}” registered."
    return visit.json({"ok": True, "redirect": "/account"})


@router.post("/account/keys/rename")
def account_key_rename(visit: AccountForm, credential_id: Annotated[str, Form()] = "",
                       name: Annotated[str, Form()] = "") -> Response:
    name = name.strip()
    if not name or len(name) > MAX_KEY_NAME or not credential_id:
        visit.session.flash = "A key name must be 1 to 64 characters."
    else:
        visit.verifier.rename_credential(visit.username, credential_id, name)
        visit.session.flash = "Security key renamed."
    return visit.redirect("/account")


@router.post("/account/keys/remove")
def account_key_remove(visit: AccountForm, credential_id: Annotated[str, Form()] = "") -> Response:
    visit.verifier.remove_credential(visit.username, credential_id, actor=visit.username, ip=visit.ip,
                                     user_agent=visit.user_agent)
    visit.session.flash = "Security key removed."
    return visit.redirect("/account")
