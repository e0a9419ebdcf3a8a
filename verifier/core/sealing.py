"""Secrets at rest: a TOTP secret sealed with AES-256-GCM and bound to the user it belongs to.

A sealed secret is ``"v1:" + base64(nonce || ciphertext || tag)`` with a fresh 12-byte nonce. The
associated data is ``"totp:" + username``, so a sealed secret copied into another user's row fails to
open: the binding, not only the key, decides whose secret it is. Pure apart from the random nonce; the
caller holds the server key (see verifier/settings.py, ``resolve_server_key``).
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_PREFIX = "v1:"
NONCE_BYTES = 12
TAG_BYTES = 16


def binding(username: str) -> bytes:
    """The associated data that ties a sealed secret to ``username``."""
    return f"totp:{username}".encode()


def seal(aead: AESGCM, username: str, secret: bytes) -> str:
    """``secret`` encrypted for ``username``'s row (a new nonce every time)."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return FORMAT_PREFIX + base64.b64encode(nonce + aead.encrypt(nonce, secret, binding(username))).decode("ascii")


def unseal(aead: AESGCM, username: str, sealed: str) -> bytes:
    """The secret sealed for ``username``.

    Raises ``cryptography.exceptions.InvalidTag`` when it was sealed for another user, under another key, or
    altered; ValueError when ``sealed`` is not a sealed secret at all.
    """
    try:
        raw = base64.b64decode(sealed.removeprefix(FORMAT_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a sealed secret: bad base64") from None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise ValueError("not a sealed secret: too short")
    return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], binding(username))
