"""Remember this device: a random token per device, only its hash stored, rotated on every use."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from ..errors import BadRequest
from ..store import Store
from ..store.base import Effects
from .gate import Gate, Outcome
from .users import load_policy, require_user

MAX_TOKEN = 200
SECONDS_PER_DAY = 86400


def token_hash(token: str) -> str:
    """What the store keeps of a device token."""
    return hashlib.sha256(token.encode()).hexdigest()


class Devices:
    """Issue, check (and rotate) and revoke remembered-device tokens, within the policy's ``remember_days``."""

    def __init__(self, store: Store, clock: Callable[[], float], gate: Gate) -> None:
        self.store = store
        self.clock = clock
        self.gate = gate

    def remember(self, username: str, ip: str, user_agent: str) -> str:
        """A device token valid for the policy's ``remember_days``; only its hash is stored."""
        require_user(self.store, username)
        days = load_policy(self.store).remember_days
        if days <= 0:
            raise BadRequest("remembering devices is turned off by the policy")
        token = secrets.token_urlsafe(32)
        now = self.clock()
        # A remembered device is a new device of the account: the user is told (never the token).
        effects = Effects([self.gate.record("device_remembered", now, username=username, method="device", ip=ip,
                                            user_agent=user_agent, result="ok", detail=f"{days} days")],
                          self.gate.mails("new_device", username, now, ip=ip, user_agent=user_agent, days=days))
        self.store.add_device(token_hash(token), username, now + days * SECONDS_PER_DAY, now, effects)
        self.gate.published(effects)
        return token

    def check(self, username: str, token: str) -> str | None:
        """A rotated token when ``token`` is a live device token of ``username``; else None (old one dies)."""
        if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN or \
                load_policy(self.store).remember_days <= 0:
            return None
        new_token = secrets.token_urlsafe(32)
        if not self.store.rotate_device(token_hash(token), username, token_hash(new_token), self.clock()):
            return None
        return new_token

    def revoke_all(self, username: str, actor: str | None = None, ip: str | None = None,
                   user_agent: str | None = None) -> int:
        """Forget every remembered device of the user; returns how many. The user is mailed when there were any."""
        require_user(self.store, username)
        now = self.clock()
        settings = self.gate.notice_settings()
        outcome = Outcome(lambda count: Effects(
            [self.gate.record("devices_revoked", now, username=username, method="device", actor=actor, ip=ip,
                              user_agent=user_agent, result="ok", detail=f"{count} devices")],
            self.gate.mails("devices_revoked", username, now, settings=settings, ip=ip, user_agent=user_agent,
                            count=count, by_admin=actor is not None and actor != username) if count else ()))
        count = self.store.delete_devices(username, outcome)
        self.gate.published(outcome.effects)
        return count
