"""Verifier settings for a mock tracker served at http://localhost:PORT."""

from __future__ import annotations

from typing import Any


def mock_settings(port: int, *, db_url: str | None = None) -> Any:
    """Settings: rp id ``localhost``, the one allowed origin ``http://localhost:PORT``."""
    from verifier.service import VerifierSettings

    return VerifierSettings(rp_id="localhost", rp_name="Jibra", origins=(f"http://localhost:{port}",))
