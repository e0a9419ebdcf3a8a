"""The LDAP first factor (ldap3): bind as the user, read their entry, find their groups with a filter.

What the user typed reaches the directory only escaped: as a DN attribute value in ``user_dn``
(RFC 4514, :func:`ldap3.utils.dn.escape_rdn`) and as a filter value in ``groups_filter`` (RFC 4515,
:func:`ldap3.utils.conv.escape_filter_chars`), so ``*``, ``(``, ``)``, ``\\``, NUL, ``,`` or ``+`` in a
username can neither widen a search nor point the bind at another entry.

An empty password is refused before any bind: LDAP reads a simple bind with a name and no password as an
*unauthenticated* bind, which many servers accept (RFC 4513 §5.1.2).

The user's name is taken from their entry (``username_attribute``), not from what was typed: directories
compare names without regard to case, and a login as ``ALICE`` must reach alice's factors, not create a
second user without any.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from .config import LdapConfig

MAX_PASSWORD = 1024
INVALID_CREDENTIALS = 49
NO_SUCH_OBJECT = 32
INVALID_DN_SYNTAX = 34


class DirectoryUnavailable(Exception):
    """The directory could not be asked (down, TLS failure, timeout): nobody's fault, nothing counted."""


@dataclass(frozen=True)
class LdapEntry:
    """What the directory says of a user who bound successfully."""

    username: str
    dn: str
    groups: tuple[str, ...]
    display_name: str | None
    email: str | None


def user_dn(template: str, username: str) -> str:
    """The user's DN from the template, the name escaped as an attribute value (RFC 4514)."""
    from ldap3.utils.dn import escape_rdn

    return template.replace("{username}", escape_rdn(username))


def groups_filter(template: str, username: str, dn: str) -> str:
    """The group search filter, both values escaped as filter assertion values (RFC 4515)."""
    from ldap3.utils.conv import escape_filter_chars

    return template.replace("{username}", escape_filter_chars(username)).replace("{dn}", escape_filter_chars(dn))


def _first(entry_attributes: dict, name: str) -> str | None:
    value = entry_attributes.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value not in (None, "") else None


class LdapClient:
    """Binds as the user; one short connection per login."""

    def __init__(self, config: LdapConfig) -> None:
        self.config = config

    def _server(self):
        from ldap3 import NONE, Server, Tls

        tls = None
        if self.config.url.startswith("ldaps://") or self.config.start_tls:
            tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.config.ca_file)
        # ldap3 packs its timeouts into socket options as whole seconds.
        return Server(self.config.url, connect_timeout=max(1, int(self.config.timeout)), get_info=NONE, tls=tls)

    def authenticate(self, username: str, password: str) -> LdapEntry | None:
        """The user's entry when ``password`` binds as them; None for a wrong name or password.

        Raises DirectoryUnavailable when the directory cannot be asked.
        """
        from ldap3 import BASE, SIMPLE, SUBTREE, Connection
        from ldap3.core.exceptions import LDAPException

        if not password or len(password) > MAX_PASSWORD or not username:
            return None
        dn = user_dn(self.config.user_dn, username)
        conn = Connection(self._server(), user=dn, password=password, authentication=SIMPLE, read_only=True,
                          receive_timeout=max(1, int(self.config.timeout)), raise_exceptions=False,
                          auto_referrals=False)
        try:
            conn.open()
            if self.config.start_tls and not conn.start_tls():
                raise DirectoryUnavailable("StartTLS failed")
            if not conn.bind():
                if conn.result and conn.result.get("result") in (INVALID_CREDENTIALS, NO_SUCH_OBJECT,
                                                                 INVALID_DN_SYNTAX):
                    return None
                raise DirectoryUnavailable(f"bind failed: {(conn.result or {}).get('description', 'no answer')}")
            wanted = [self.config.username_attribute, self.config.name_attribute, self.config.mail_attribute]
            if not conn.search(dn, "(objectClass=*)", BASE, attributes=wanted) or not conn.entries:
                raise DirectoryUnavailable("the bound user's entry cannot be read")
            attributes = conn.response[0].get("attributes", {})
            canonical = _first(attributes, self.config.username_attribute)
            if canonical is None or canonical.casefold() != username.casefold():
                return None  # bound, but the entry does not name this user: refuse rather than guess
            search = groups_filter(self.config.groups_filter, canonical, dn)
            groups: list[str] = []
            if conn.search(self.config.groups_base, search, SUBTREE,
                           attributes=[self.config.group_name_attribute]):
                for item in conn.response:
                    name = _first(item.get("attributes", {}), self.config.group_name_attribute)
                    if name:
                        groups.append(name)
            return LdapEntry(canonical, dn, tuple(sorted(set(groups))),
                             _first(attributes, self.config.name_attribute),
                             _first(attributes, self.config.mail_attribute))
        except LDAPException as exc:
            raise DirectoryUnavailable(f"{type(exc).__name__}: {exc}") from None
        finally:
            conn.unbind()
