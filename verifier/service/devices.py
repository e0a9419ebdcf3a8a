"""Remember this device: a random token per device, only its hash stored, rotated on every use."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from ..errors import BadRequest
from ..store import Store
from .gate import Gate
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
        self.store.add_device(token_hash(token), username, now + days * SECONDS_PER_DAY, now)
        self.gate.audit("device_remembered", username=username, method="device", ip=ip, user_agent=user_agent,
                        result="ok", detail=f"{days} days")
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

    def revoke_all(self, username: str, actor: str | None = None) -> int:
        """Forget every remembered device of the user; returns how many."""
        require_user(self.store, username)
        count = self.store.delete_devices(username)
        self.gate.audit("devices_revoked", username=username, method="device", actor=actor, result="ok",
                        detail=f"{count} devices")
        return count
