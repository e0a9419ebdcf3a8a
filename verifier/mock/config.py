"""Verifier settings for a mock tracker served at http://localhost:PORT."""

from __future__ import annotations

from ..settings import VerifierSettings


def mock_settings(port: int, *, server_key: bytes | str | None = None) -> VerifierSettings:
    """Settings: rp id ``localhost``, the one allowed origin ``http://localhost:PORT``.

    ``server_key`` None: the verifier takes $TRACKER2FA_VERIFIER_KEY, else a key file beside a SQLite
    database (PostgreSQL needs one of the two).
    """
    return VerifierSettings(rp_id="localhost", rp_name="Jibra", origins=(f"http://localhost:{port}",),
                            issuer="Jibra", server_key=server_key)
