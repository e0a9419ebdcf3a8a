"""Users: names, groups, the optional password (first factor) and the status a tracker asks for."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable
from typing import Any

from ..core import backup as backup_rules
from ..core.addresses import check_address
from ..core.policy import Policy
from ..core.totp import TotpParams
from ..errors import BadRequest, UserNotFound, VerifierConfigError
from ..settings import VerifierSettings
from ..store import Store
from ..store.base import POLICY_SETTING, Effects
from .gate import Gate
from .results import OK, UserStatus, VerifyResult

MAX_NAME = 150
DEFAULT_POLICY = Policy()  # for readers that only ask who must use a second factor
MAX_PASSWORD = 1024
# Checked for users without a password so that every password check costs one scrypt hash.
_DUMMY_PASSWORD_HASH = backup_rules.hash_password("timing-equalizer", backup_rules.HashParams(n=2**14))


def check_name(kind: str, value: Any) -> str:
    """A user or group name: 1–150 printable characters without spaces; raises BadRequest."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME or \
            any(c.isspace() or not c.isprintable() for c in value):
        raise BadRequest(f"{kind} must be 1-{MAX_NAME} printable characters without spaces")
    return value


def mail_address(value: Any) -> str:
    """A user's mail address as stored; raises BadRequest naming what is wrong with it."""
    try:
        return check_address(value)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def require_user(store: Store, username: str) -> dict[str, Any]:
    """The user's row; raises UserNotFound (also for a name that is not text)."""
    user = store.get_user(username) if isinstance(username, str) else None
    if user is None:
        raise UserNotFound(f"no user named {username!r}")
    return user


def initial_policy(settings: VerifierSettings) -> Policy:
    """The policy before an admin set one: every user asked, the TOTP settings from ``settings`` (``totp``,
    ``issuer``); raises VerifierConfigError when those lie outside the policy's ranges."""
    return _initial_policy(settings.totp, settings.issuer)


@functools.lru_cache(maxsize=8)
def _initial_policy(totp: TotpParams, issuer: str) -> Policy:
    try:
        return Policy.validated("all", totp_digits=totp.digits, totp_period=totp.period,
                                totp_algorithm=totp.algorithm, totp_window=totp.window, issuer=issuer)
    except ValueError as exc:
        raise VerifierConfigError(f"VerifierSettings: {exc}") from None


@functools.lru_cache(maxsize=16)
def policy_of(raw: str | None, defaults: Policy) -> Policy:
    """The policy stored as ``raw`` JSON, ``defaults`` filling what it lacks (``defaults`` itself when none
    was stored). Parsed once per distinct text: every TOTP verification reads the stored text with its
    factor, and parsing it (the allowlist's networks) would cost more than the read."""
    return Policy.from_dict(json.loads(raw), defaults) if raw else defaults


def load_policy(store: Store, defaults: Policy = DEFAULT_POLICY) -> Policy:
    """The stored policy (``defaults``, every user asked, when none was set)."""
    return policy_of(store.get_setting(POLICY_SETTING), defaults)


def as_timestamp(value: float | dt.datetime | dt.date | None) -> float | None:
    """A unix time from a number, an aware or naive (UTC) datetime, or a date (its UTC midnight)."""
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
    raise BadRequest("a date must be a unix time, a date or a datetime")


class Users:
    """Create users, change their groups and exclusions, check passwords, report their status."""

    def __init__(self, store: Store, settings: VerifierSettings, clock: Callable[[], float], gate: Gate) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.gate = gate

    def create(self, username: str, password: str | None = None, groups: Iterable[str] = (),
               actor: str | None = None, email: str | None = None) -> UserStatus:
        """Create a user (password optional: a tracker may keep passwords itself; a mail address optional);
        raises UserExists, or BadRequest for a bad name, group, password or address."""
        check_name("username", username)
        group_list = [check_name("group", g) for g in groups]
        if password is not None and (not isinstance(password, str) or not 1 <= len(password) <= MAX_PASSWORD):
            raise BadRequest(f"password must be 1-{MAX_PASSWORD} characters")
        address = mail_address(email) if email is not None else None
        pw_hash = backup_rules.hash_password(password, self.settings.password_hash) if password else None
        now = self.clock()
        effects = Effects([self.gate.record("user_created", now, username=username, method="admin", actor=actor,
                                            result="ok", detail=f"groups: {', '.join(sorted(set(group_list))) or '-'}"
                                            + (f"; mail to {address}" if address else ""))])
        self.store.create_user(username, pw_hash, group_list, now, address, effects)
        self.gate.published(effects)
        return self.status(username)

    def names(self) -> list[str]:
        """All usernames, sorted."""
        return self.store.list_users()

    def check_password(self, username: str, password: str) -> bool:
        """True when the password matches (unknown users cost the same time and return False)."""
        user = self.store.get_user(username) if isinstance(username, str) else None
        if not isinstance(password, str) or len(password) > MAX_PASSWORD:
            return False
        if user is None or not user["password_hash"]:
            backup_rules.check_password(password, _DUMMY_PASSWORD_HASH)
            return False
        return backup_rules.check_password(password, user["password_hash"])

    def verify_password(self, username: str, password: str, ip: str, user_agent: str) -> VerifyResult:
        """Check a login password with the per-user and per-IP back-off of the second factor.

        While a counter is locked the password is not checked (``locked``). A wrong password, or any
        password for an unknown user, is a failure (``invalid``) on both counters. A right one clears
        nothing: only a completed second factor does, so the password step cannot reset its back-off.
        """
        if (locked := self.gate.check(username, ip)) is not None:
            return locked
        if self.check_password(username, password):
            return OK
        return self.gate.fail(username, ip, user_agent, "password", "invalid")

    def set_groups(self, username: str, groups: Iterable[str], actor: str | None = None) -> UserStatus:
        """Replace a user's groups; a user the policy asks only from now on (a new group) is told, as a policy
        change tells the users it newly asks."""
        user = require_user(self.store, username)
        group_list = sorted({check_name("group", g) for g in groups})
        now = self.clock()
        policy = load_policy(self.store)
        asked = policy.requires(group_list, user["excluded_until"], "", now)
        mails = self.gate.mails("policy_enforced", username, now, deadline=policy.enrol_deadline, enrolled=bool(
            self.store.get_totp(username) or self.store.list_credentials(username))) \
            if asked and not policy.requires(user["groups"], user["excluded_until"], "", now) else []
        effects = Effects([self.gate.record("groups_changed", now, username=username, method="admin", actor=actor,
                                            result="ok", detail=f"groups: {', '.join(group_list) or '-'}")], mails)
        self.store.set_groups(username, group_list, effects)
        self.gate.published(effects)
        return self.status(username)

    def add_to_group(self, username: str, group: str, actor: str | None = None) -> UserStatus:
        """Add one group to a user's groups."""
        user = require_user(self.store, username)
        return self.set_groups(username, [*user["groups"], check_name("group", group)], actor)

    def exclude(self, username: str, until: float | dt.datetime | dt.date | None,
                actor: str | None = None) -> UserStatus:
        """Skip the second factor for ``username`` until ``until`` (None ends the exclusion)."""
        require_user(self.store, username)
        ts = as_timestamp(until)
        self.store.set_excluded_until(username, ts)
        self.gate.audit("user_excluded", username=username, method="admin", actor=actor, result="ok",
                        detail=f"until {ts}" if ts else "exclusion ended")
        return self.status(username)

    def status(self, username: str) -> UserStatus:
        """What the tracker needs to decide the next login step for ``username``; raises UserNotFound."""
        user = require_user(self.store, username)
        now = self.clock()
        excluded_until = user["excluded_until"]
        return UserStatus(
            username=username,
            groups=list(user["groups"]),
            totp=self.store.get_totp(username) is not None,
            webauthn=len(self.store.list_credentials(username)),
            backup_codes_left=len(self.store.unused_backup_codes(username)),
            required=load_policy(self.store).requires(user["groups"], excluded_until, "", now),
            locked_until=self.gate.user_locked_until(username, now),
            excluded_until=excluded_until if (excluded_until or 0) > now else None,
            remembered_devices=self.store.count_devices(username, now),
            email=user["email"],
        )
