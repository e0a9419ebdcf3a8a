"""What the portal says about a refused step, in one place. Messages never echo a code or a password."""

from __future__ import annotations

import math
import re

from ...service import VerifyResult

MAX_USERNAME = 150
MAX_PASSWORD = 1024
MAX_JSON_BODY = 64 * 1024
OTP_RE = re.compile(r"[0-9]{6,8}")
BACKUP_RE = re.compile(r"[A-Za-z0-9-]{4,64}")

ENTER_CODE = "Enter the code from your authenticator app (6 to 8 digits)."
WRONG_PASSWORD = "Wrong username or password."
DIRECTORY_DOWN = "The user directory cannot be reached right now. Try again in a minute."
SESSION_GONE = "Your login was ended (logged out elsewhere, or by an administrator). Please log in again."
BAD_RD = "The address you came from is not one this portal sends people back to; you will stay on the portal."
RESULTS = {
    "invalid": "That code is not valid. Check it and try again.",
    "replay": "That code has already been used. Wait for your app to show the next one.",
    "expired": "The request expired. Please try again.",
    "not_enrolled": "This way of verifying is not set up for your account.",
}
KEY_RESULTS = {
    "invalid": "The security key's answer was not accepted.",
    "counter_regression": "Security key refused: its signature counter went backwards (a possible cloned key).",
    "expired": "The security-key request expired. Please try again.",
}


def wait(retry_after: float | None) -> str:
    return f" Try again in {max(1, math.ceil(retry_after))} seconds." if retry_after else " Try again later."


def refused(result: VerifyResult, *, key: bool = False) -> str:
    """A person-readable message for a refused verification."""
    if result.reason == "locked":
        return "Too many failed attempts: verifying is temporarily locked." + wait(result.retry_after)
    table = KEY_RESULTS if key else RESULTS
    return table.get(result.reason, f"Verification failed ({result.reason}).")


def login_refused(result: VerifyResult) -> str:
    if result.reason == "locked":
        return "Too many failed login attempts: logging in is temporarily locked." + wait(result.retry_after)
    return WRONG_PASSWORD


def without_spaces(code: str) -> str:
    return "".join(code.split())
