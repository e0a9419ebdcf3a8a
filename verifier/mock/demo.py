"""Seeded demo users of the mock tracker.

Each gets the address NAME@example.com: their notices reach the mock's local mail sink.

| user  | password        | groups              | factors at first start                      |
|-------|-----------------|---------------------|---------------------------------------------|
| admin | admin-demo-pass | jira-administrators | none: first login enrols TOTP               |
| alice | alice-demo-pass | developers          | TOTP (URI printed at first start), 10 backup codes |
| bob   | bob-demo-pass   | developers          | none: first login enrols TOTP               |

Users that already exist are left alone (their factors and passwords are never touched again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyotp

from ..errors import UserNotFound

if TYPE_CHECKING:  # the CLI imports this module to parse --demo-user before the verifier is needed
    from ..service import Verifier

DEMO_USERS: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("admin", "admin-demo-pass", ("jira-administrators",), False),
    ("alice", "alice-demo-pass", ("developers",), True),
    ("bob", "bob-demo-pass", ("developers",), False),
)


@dataclass
class SeededUser:
    """What ``tracker2fa mock`` prints about one demo user."""

    username: str
    password: str
    groups: tuple[str, ...]
    created: bool
    totp_uri: str | None = None
    backup_codes: list[str] = field(default_factory=list)


def user_exists(verifier: Verifier, username: str) -> bool:
    """True when the verifier knows ``username``."""
    try:
        verifier.user_status(username)
    except UserNotFound:
        return False
    return True


def parse_demo_user(text: str) -> tuple[str, str]:
    """``NAME:PASSWORD`` → (name, password); raises ValueError with a clear message."""
    name, sep, password = text.partition(":")
    name = name.strip()
    if not sep or not name or not password:
        raise ValueError(f"--demo-user wants NAME:PASSWORD, got {text!r}")
    if len(name) > 150 or any(c.isspace() for c in name):
        raise ValueError(f"--demo-user name must be 1-150 characters without spaces, got {name!r}")
    return name, password


def demo_address(username: str) -> str | None:
    """``NAME@example.com`` for a demo user (RFC 2606's domain: nothing leaves the machine), when that is an
    address; the mock's sink receives everything anyway."""
    from ..core.addresses import check_address

    try:
        return check_address(f"{username}@example.com")
    except ValueError:
        return None


def seed(verifier: Verifier, extra: list[tuple[str, str]] = (), *, clock=time.time) -> list[SeededUser]:
    """Create the demo users (and ``extra`` ones, with no factor enrolled) unless they already exist."""
    seeded: list[SeededUser] = []
    wanted = [*DEMO_USERS, *((n, p, (), False) for n, p in extra)]
    for username, password, groups, with_totp in wanted:
        if user_exists(verifier, username):
            seeded.append(SeededUser(username, password, tuple(groups), created=False))
            continue
        verifier.create_user(username, password, groups=tuple(groups), email=demo_address(username))
        user = SeededUser(username, password, tuple(groups), created=True)
        if with_totp:
            enrolment = verifier.totp_enroll_begin(username)
            # Confirm with the previous step's code (inside the ±1 window) so the current code stays
            # usable for the person who logs in right after start-up.
            code = pyotp.TOTP(enrolment.secret).at(clock() - 30)
            result = verifier.totp_enroll_confirm(username, code, "127.0.0.1", "tracker2fa mock (seeding)")
            if result.ok:
                user.totp_uri = enrolment.uri
                user.backup_codes = list(verifier.generate_backup_codes(username))
        seeded.append(user)
    return seeded
