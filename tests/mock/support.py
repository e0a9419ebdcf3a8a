"""Helpers shared by the mock-tracker tests (imported as tests.mock.support)."""

from __future__ import annotations

from typing import Any


def verifier_settings(port: int, *, server_key: bytes | None = None) -> Any:
    """Verifier settings for a mock served at http://localhost:PORT."""
    from verifier.mock.config import mock_settings

    return mock_settings(port, server_key=server_key)


def login_with_password(page: Any, base_url: str, username: str, password: str) -> None:
    """Fill and submit the login form."""
    page.goto(f"{base_url}/login")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")
