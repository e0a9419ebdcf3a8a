"""Software keys under the real python-fido2 stack, over each transport's framing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fido2.server import Fido2Server

from native_host.fido.discovery import KeyHandle
from native_host.fido.softkey.authenticator import SoftAuthenticator
from native_host.fido.softkey.presence import PresencePolicy
from tests.fido.helpers import RP_ID, TRANSPORTS, open_key

KeyFactory = Callable[..., tuple[KeyHandle, SoftAuthenticator]]


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_key(transport: str) -> KeyFactory:
    """make_key(presence=..., ctap2=..., u2f=..., name=...) → (handle, authenticator) on this transport."""

    def factory(*, presence: PresencePolicy | None = None, ctap2: bool = True, u2f: bool = True,
                name: str = "soft") -> tuple[KeyHandle, SoftAuthenticator]:
        authenticator = SoftAuthenticator(presence=presence, ctap2=ctap2, u2f=u2f, transports=(transport,))
        return open_key(transport, authenticator, name), authenticator

    return factory


@pytest.fixture
def server() -> Fido2Server:
    return Fido2Server({"id": RP_ID, "name": "Example Jira"})
