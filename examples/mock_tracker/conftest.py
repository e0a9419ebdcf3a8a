"""Wiring the tracker2fa test kit to the tracker under test: here the mock tracker (`tracker2fa mock`).

For your own tracker, replace the `tracker` fixture with one that starts it (or points at a test instance) and
gives its URL, a test user's password and that user's TOTP secret as an otpauth:// URI. The kit's fixtures
(tracker2fa_*) come from its pytest plugin, loaded by itself once `tracker2fa[devtools]` is installed.
"""

from __future__ import annotations

import pytest

from native_host.devtools.kit import Account


@pytest.fixture(params=["chromium", "firefox"])
def tracker2fa_browser_name(request: pytest.FixtureRequest) -> str:
    """Every test runs in Chromium and in Firefox (without this, --tracker2fa-browser chooses one)."""
    return str(request.param)


@pytest.fixture
def tracker(tracker2fa_mock):
    """The tracker under test: the mock, started fresh for each test by the kit."""
    return tracker2fa_mock


@pytest.fixture
def tracker2fa_accounts(tracker) -> list[Account]:
    """alice's authenticator in the throwaway vault, bound to the tracker's origin, with her backup codes."""
    return [Account(tracker.alice_uri, origins=[tracker.url], backup_codes=tracker.alice_backup_codes)]


@pytest.fixture
def tracker2fa_security_key_origins(tracker) -> list[str]:
    """Security keys through tracker2fa on the tracker (Options → Security keys)."""
    return [tracker.url]


@pytest.fixture
def tracker2fa_virtual_key() -> bool:
    """The host's virtual key, confirming requests by itself (no consent window to click in a headless run)."""
    return True
