"""Policy: who must present a second factor, and the admin's resets and unlocks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from ..core.policy import Policy
from ..errors import InvalidPolicy
from ..store import Store
from .gate import Gate
from .results import PolicySettings
from .users import POLICY_SETTING, check_name, load_policy, require_user


def _settings_of(policy: Policy) -> PolicySettings:
    return PolicySettings(mode=policy.mode, groups=list(policy.groups), ip_allowlist=list(policy.ip_allowlist),
                          remember_days=policy.remember_days)


class Policies:
    """Read and replace the enforcement policy; decide per login; reset and unlock users."""

    def __init__(self, store: Store, clock: Callable[[], float], gate: Gate) -> None:
        self.store = store
        self.clock = clock
        self.gate = gate

    def get(self) -> PolicySettings:
        """The policy in force."""
        return _settings_of(load_policy(self.store))

    def set(self, mode: str, groups: Iterable[str] = (), ip_allowlist: Iterable[str] = (), remember_days: int = 0,
            actor: str | None = None) -> PolicySettings:
        """Replace the policy; raises InvalidPolicy and changes nothing on bad input."""
        try:
            policy = Policy.validated(mode, list(groups), list(ip_allowlist), remember_days)
        except (ValueError, TypeError) as exc:
            raise InvalidPolicy(str(exc)) from None
        stored = json.dumps(policy.to_dict())
        self.store.set_setting(POLICY_SETTING, stored)
        self.gate.audit("policy_changed", method="admin", actor=actor, result="ok", detail=stored)
        return _settings_of(policy)

    def second_factor_required(self, username: str, ip: str) -> bool:
        """Policy, exclusion and IP allowlist together; unknown users are always asked."""
        user = self.store.get_user(username) if isinstance(username, str) else None
        if user is None:
            return True
        return load_policy(self.store).requires(user["groups"], user["excluded_until"], str(ip), self.clock())

    def reset_user(self, username: str, actor: str | None = None) -> None:
        """Remove every factor, backup code and remembered device of the user, and lift its lock."""
        require_user(self.store, username)
        self.store.delete_totp(username)
        self.store.delete_backup_codes(username)
        self.store.delete_credentials(username)
        self.store.delete_devices(username)
        self.gate.clear(username)
        self.gate.audit("user_reset", username=username, method="admin", actor=actor, result="ok")

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
