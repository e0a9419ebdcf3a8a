"""What the mock's pages say, and the shape of what they accept, in one place.

Messages never echo a code or password back.
"""

from __future__ import annotations

import math
import re

from ..service import VerifyResult

MAX_USERNAME = 150
MAX_PASSWORD = 1024
MAX_KEY_NAME = 64
MAX_DEVICE_COOKIE = 512
OTP_RE = re.compile(r"^[0-9]{6,8}$")
BACKUP_RE = re.compile(r"^[A-Za-z0-9-]{4,64}$")

ENTER_CODE = "Enter the 6-digit code from your app."
RESULT_MESSAGES = {
    "invalid": "That code is not valid. Check the code in your app and try again.",
    "replay": "That code has already been used. Wait for your app to show the next code.",
    "not_enrolled": "This factor is not set up for your account. Choose another way to verify.",
    "expired": "The request expired. Please try again.",
}
KEY_MESSAGES = {
    "invalid": "The security key's answer was not accepted.",
    "counter": "Security key rejected: its signature counter went backwards (a possible cloned key).",
    "not_enrolled": "No security key is registered for this account.",
    "expired": "The security-key request expired. Please try again.",
}


def without_spaces(code: str) -> str:
    """A typed code as the verifier wants it (people type ``123 456``)."""
    return "".join(code.split())


def _wait(retry_after: float | None) -> str:
    return f" Try again in {max(1, math.ceil(retry_after))} seconds." if retry_after else " Try again later."


def result_message(result: VerifyResult, *, key: bool = False) -> str:
    """A person-readable message for a failed verification."""
    reason = result.reason
    if reason == "locked":
        return "Too many failed attempts: this account is temporarily locked." + _wait(result.retry_after)
    if key and ("counter" in reason or "clone" in reason):
        return KEY_MESSAGES["counter"]
    table = KEY_MESSAGES if key else RESULT_MESSAGES
    return table.get(reason, f"Verification failed ({reason}).")


def login_lock_message(result: VerifyResult) -> str:
    """The login page's words for a locked password step (the user's or this address's counter)."""
    return "Too many failed login attempts: logging in is temporarily locked." + _wait(result.retry_after)
