"""Where a user's notices go: the one place that answers "which address is this user's?".

The sender asks :meth:`Recipients.address_of` for every mail it delivers (the outbox keeps the user, not the
address, so a mail goes where the user's address is at delivery). Sources are asked in order and the first
that knows an address wins. Today there is one: the address stored with the user (create-user, the seed
import, the admin API, the mock; for users who sign in to the gate through LDAP, the directory's ``mail``
attribute, written to the user at each sign-in). Another source would be added in :func:`default_recipients`
and nowhere else. Whatever a source returns is checked
by the sender (``verifier.core.addresses.smtp_address``) before it reaches a header.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# (username, the user's row from the store or None) -> an address, or None when this source knows none
AddressSource = Callable[[str, dict[str, Any] | None], str | None]


def stored_address(username: str, user: dict[str, Any] | None) -> str | None:
    """The address stored with the user (``users.email``)."""
    return (user or {}).get("email") or None


class Recipients:
    """The first of ``sources`` that knows an address for a user."""

    def __init__(self, sources: Sequence[AddressSource] = (stored_address,)) -> None:
        self.sources = tuple(sources)

    def address_of(self, username: str, user: dict[str, Any] | None) -> str | None:
        """The user's address, or None when no source knows one (the mail is then dropped, saying so)."""
        for source in self.sources:
            address = source(username, user)
            if address:
                return address
        return None


def default_recipients() -> Recipients:
    """The sources every sender of this deployment uses (``verifier serve``, ``verifier mailer``, the mock)."""
    return Recipients((stored_address,))
