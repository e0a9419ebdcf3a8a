"""The gate as one ASGI app: the forward-auth endpoints first, the portal for everything else.

``create_gate_app(config, store)`` builds a :class:`~verifier.service.Verifier` per configured domain on
the one store (each with that domain's WebAuthn relying party and portal origin), the first factor (the
verifier's users or LDAP), the forward-auth check and the portal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..service import Verifier, VerifierSettings
from ..store import Store
from .authz import AUTHZ_PATHS, Authz
from .config import GateConfig
from .directory import LdapDirectory, LocalDirectory
from .ldap import LdapClient
from .portal.app import create_portal_app
from .portal.visit import PortalContext


class GateApp:
    """Route by path: the two forward-auth paths to :class:`Authz`, the rest to the portal."""

    def __init__(self, authz: Authz, portal: Any, context: PortalContext) -> None:
        self.authz = authz
        self.portal = portal
        self.context = context  # the configuration, the verifier of each domain, the first factor

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in AUTHZ_PATHS:
            await self.authz(scope, receive, send)
            return
        await self.portal(scope, receive, send)


def create_gate_app(config: GateConfig, store: Store, *, clock: Callable[[], float] = time.time,
                    **settings: Any) -> GateApp:
    """The gate around ``store``. ``settings`` are extra :class:`VerifierSettings` fields (tests lower the
    password hash cost with them)."""
    verifiers = {
        d.domain: Verifier(store, VerifierSettings(rp_id=d.rp_id, rp_name=d.rp_name, origins=(d.portal,),
                                                   issuer=d.rp_name, **settings), clock=clock)
        for d in config.domains
    }
    first = verifiers[config.domains[0].domain]
    directory: LocalDirectory | LdapDirectory
    if config.backend == "ldap":
        assert config.ldap is not None  # the configuration check makes sure
        directory = LdapDirectory(first, LdapClient(config.ldap))
    else:
        directory = LocalDirectory(first)
    authz = Authz(config, first.sessions, inline=store.calls_are_brief)
    context = PortalContext(config, verifiers, directory)
    return GateApp(authz, create_portal_app(context), context)
