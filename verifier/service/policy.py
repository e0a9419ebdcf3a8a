"""Policy: who must present a second factor, the TOTP settings of new enrolments, and the admin's resets
and unlocks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from ..core import notices, ratelimit
from ..core.audit import make_event
from ..core.policy import Policy
from ..errors import InvalidPolicy, PolicyConflict
from ..settings import VerifierSettings
from ..store import Store
from ..store.base import Effects
from .gate import Gate
from .results import PolicySettings
from .users import POLICY_SETTING, check_name, initial_policy, load_policy, policy_of, require_user

CHANGE_ATTEMPTS = 5  # compare-and-set rounds against other admins changing the policy at the same moment


def _settings_of(policy: Policy) -> PolicySettings:
    return PolicySettings(**policy.to_dict())


class Policies:
    """Read and change the policy; decide per login; reset and unlock users."""

    def __init__(self, store: Store, settings: VerifierSettings, clock: Callable[[], float], gate: Gate) -> None:
        self.store = store
        self.clock = clock
        self.gate = gate
        self._defaults = initial_policy(settings)

    def get(self) -> PolicySettings:
        """The policy in force."""
        return _settings_of(load_policy(self.store, self._defaults))

    def update(self, changes: dict[str, Any], actor: str | None = None) -> PolicySettings:
        """Change the named fields of the policy (``mode``, ``groups``, ``ip_allowlist``, ``remember_days``,
        ``totp_digits``, ``totp_period``, ``totp_algorithm``, ``totp_window``, ``issuer``), keeping the others
        (and those given as None).

        Raises InvalidPolicy naming the bad field (a number with its range) and changes nothing then. The
        write is a compare-and-set against the policy it was built from, with the audit row (old and new
        values) in the same transaction: of two admins changing different fields at once, neither loses. A change
        that asks users who were not asked before mails each of them, in that transaction too.
        """
        changes = {name: value for name, value in changes.items() if value is not None}  # None keeps a field
        unknown = sorted(set(changes) - set(Policy().to_dict()))
        if unknown:
            raise InvalidPolicy(f"unknown policy field(s): {', '.join(unknown)}")
        for _ in range(CHANGE_ATTEMPTS):
            raw = self.store.get_setting(POLICY_SETTING)
            old = policy_of(raw, self._defaults)
            merged = {**old.to_dict(), **changes}
            try:
                new = Policy.validated(merged.pop("mode"), merged.pop("groups"), merged.pop("ip_allowlist"),
                                       merged.pop("remember_days"), **merged)
            except (ValueError, TypeError) as exc:
                raise InvalidPolicy(str(exc)) from None
            now = self.clock()
            mails = self._enforcement_mails(old, new, now)
            told = f"; enforcement notice to {len(mails)} user(s)" if mails else ""
            record = make_event(now, "policy_changed", method="admin", actor=actor, result="ok",
                                detail=new.changes_from(old) + told).to_dict()
            audit_id = self.store.replace_setting(POLICY_SETTING, raw, json.dumps(new.to_dict()), record, mails)
            if audit_id is not None:
                self.gate.accepted(record, audit_id)
                return _settings_of(new)
        raise PolicyConflict("the policy kept changing while this change was made: try again")

    def _enforcement_mails(self, old: Policy, new: Policy, now: float) -> list[dict[str, Any]]:
        """One ``policy_enforced`` notice per user the new policy asks and the old one did not (the mode or its
        groups changed), telling whether they already have a factor and the enrolment deadline."""
        if (old.mode, old.groups) == (new.mode, new.groups):
            return []
        settings = self.gate.notice_settings()
        if not settings.sends("policy_enforced"):
            return []
        return [notices.outbox_row("policy_enforced", user["username"], now, enrolled=user["enrolled"],
                                   deadline=new.enrol_deadline)
                for user in notices.newly_required(old, new, self.store.users_for_notices(), now)]

    def set(self, mode: str, groups: Iterable[str] = (), ip_allowlist: Iterable[str] = (), remember_days: int = 0,
            actor: str | None = None, **totp: Any) -> PolicySettings:
        """Replace who is asked (mode, groups, allowlist, remember days); the TOTP settings given in ``totp``
        change, the others are kept. Raises InvalidPolicy and changes nothing on bad input."""
        try:
            changes = {"mode": mode, "groups": list(groups), "ip_allowlist": list(ip_allowlist),
                       "remember_days": remember_days}
        except TypeError as exc:
            raise InvalidPolicy(str(exc)) from None
        return self.update({**changes, **totp}, actor)

    def second_factor_required(self, username: str, ip: str) -> bool:
        """Policy, exclusion and IP allowlist together; unknown users are always asked."""
        user = self.store.get_user(username) if isinstance(username, str) else None
        if user is None:
            return True
        return load_policy(self.store).requires(user["groups"], user["excluded_until"], str(ip), self.clock())

    def reset_user(self, username: str, actor: str | None = None) -> None:
        """Remove every factor, backup code and remembered device of the user, and lift its lock."""
        require_user(self.store, username)
        now = self.clock()
        effects = Effects([self.gate.record("user_reset", now, username=username, method="admin", actor=actor,
                                            result="ok")],
                          self.gate.mails("user_reset", username, now))
        self.store.reset_user(username, [ratelimit.user_key(username)], effects)
        self.gate.published(effects)

    def reset_group(self, group: str, actor: str | None = None) -> list[str]:
        """:meth:`reset_user` for every member of ``group``; returns the usernames."""
        check_name("group", group)
        members = self.store.users_in_group(group)
        for username in members:
            self.reset_user(username, actor)
        self.gate.audit("group_reset", method="admin", actor=actor, result="ok",
                        detail=f"group {group}: {len(members)} users")
        return members

    def unlock(self, username: str, ip: str | None = None, actor: str | None = None) -> None:
        """Lift a lockout of the user (and of an IP)."""
        require_user(self.store, username)
        self.gate.clear(username, ip)
        self.gate.audit("user_reset", username=username, method="admin", actor=actor, result="ok",
                        detail="unlocked")
