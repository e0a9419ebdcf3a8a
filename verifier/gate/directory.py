"""The first factor: the verifier's own users (password hashes as today) or an LDAP directory.

Both go through the verifier's rate limiter (per user and per client address, the second factor's
back-off): while a counter is locked the password is not even checked, and a wrong one counts. LDAP users
get a verifier user on their first login (no password: the directory keeps it), which is what their
second factors, remembered devices and sessions hang on; their groups are copied there at every login,
so the verifier's policy (``mode = groups``) and the access rules see the directory's groups.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from ..errors import BadRequest, UserExists
from ..service import Verifier, VerifyResult
from ..service.users import MAX_PASSWORD, check_name
from .ldap import DirectoryUnavailable, LdapClient

__all__ = ["DirectoryUnavailable", "Identity", "LdapDirectory", "LocalDirectory", "Login"]


@dataclass(frozen=True)
class Identity:
    """Who passed the first factor."""

    username: str
    groups: tuple[str, ...]
    display_name: str | None
    email: str | None
    method: str  # "password" or "ldap"


@dataclass(frozen=True)
class Login:
    """A first-factor attempt's outcome: an identity, or the verifier's refusal (invalid, locked)."""

    identity: Identity | None
    result: VerifyResult


def _valid_name(username: str) -> bool:
    try:
        check_name("username", username)
    except Exception:
        return False
    return True


class LocalDirectory:
    """The verifier's users and their password hashes."""

    method = "password"

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier

    def authenticate(self, username: str, password: str, ip: str, user_agent: str) -> Login:
        result = self.verifier.verify_password(username, password, ip, user_agent)
        if not result.ok:
            return Login(None, result)
        user = self.verifier.store.get_user(username) or {}
        # "email" and "display_name" once the users table has them (issue 22 adds users.email).
        return Login(Identity(username, tuple(user.get("groups", ())), user.get("display_name"), user.get("email"),
                              self.method), result)


class LdapDirectory:
    """Bind as the user; the verifier keeps their factors under the name the directory gives."""

    method = "ldap"

    def __init__(self, verifier: Verifier, client: LdapClient) -> None:
        self.verifier = verifier
        self.client = client

    def authenticate(self, username: str, password: str, ip: str, user_agent: str) -> Login:
        """Raises DirectoryUnavailable (nothing counted) when the directory cannot be asked."""
        gate = self.verifier.gate
        if (locked := gate.check(username, ip)) is not None:
            return Login(None, locked)
        entry = None
        if _valid_name(username) and isinstance(password, str) and len(password) <= MAX_PASSWORD:
            entry = self.client.authenticate(username, password)
        if entry is None or not _valid_name(entry.username):
            return Login(None, gate.fail(username, ip, user_agent, "password", "invalid", detail="ldap"))
        self._sync(entry.username, entry.groups, entry.email)
        return Login(Identity(entry.username, entry.groups, entry.display_name, entry.email, self.method),
                     VerifyResult(True, "ok"))

    def _sync(self, username: str, groups: tuple[str, ...], email: str | None) -> None:
        """Create the verifier user on a first login; copy the directory's groups and mail address when they
        changed (the address is where the verifier's notices to the user go: docs/verifier.md, "Mail to users")."""
        valid = [g for g in groups if _valid_name(g)]
        user = self.verifier.store.get_user(username)
        if user is None:
            try:
                self.verifier.create_user(username, None, valid, actor="gate:ldap")
                user = self.verifier.store.get_user(username) or {"groups": valid, "email": None}
            except UserExists:  # another node created it meanwhile
                user = self.verifier.store.get_user(username) or {"groups": [], "email": None}
        if sorted(set(user["groups"])) != sorted(set(valid)):
            self.verifier.set_groups(username, valid, actor="gate:ldap")
        if email and email != user.get("email"):
            with contextlib.suppress(BadRequest):  # an address the verifier refuses: the stored one is kept
                self.verifier.set_email(username, email, actor="gate:ldap")
