"""Secrets at rest: a sealed TOTP secret opens only for its user, under its key, unaltered."""

from __future__ import annotations

import base64
import contextlib

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from verifier.core import sealing

KEY = AESGCM(b"k" * 32)
SECRET = b"s" * 20


def test_a_sealed_secret_opens_for_its_user():
    assert sealing.unseal(KEY, "alice", sealing.seal(KEY, "alice", SECRET)) == SECRET


def test_a_secret_copied_to_another_users_row_does_not_open():
    with pytest.raises(InvalidTag):
        sealing.unseal(KEY, "bob", sealing.seal(KEY, "alice", SECRET))


def test_a_secret_sealed_under_another_key_does_not_open():
    with pytest.raises(InvalidTag):
        sealing.unseal(AESGCM(b"o" * 32), "alice", sealing.seal(KEY, "alice", SECRET))


def test_an_altered_sealed_secret_does_not_open():
    raw = bytearray(base64.b64decode(sealing.seal(KEY, "alice", SECRET).removeprefix("v1:")))
    raw[-1] ^= 1
    with pytest.raises(InvalidTag):
        sealing.unseal(KEY, "alice", "v1:" + base64.b64encode(bytes(raw)).decode())


def test_each_seal_uses_a_fresh_nonce():
    assert sealing.seal(KEY, "alice", SECRET) != sealing.seal(KEY, "alice", SECRET)


def test_the_format_is_versioned():
    assert sealing.seal(KEY, "alice", SECRET).startswith("v1:")


@pytest.mark.parametrize("text", ["", "v1:", "v1:not base64!", "v1:" + base64.b64encode(b"x" * 27).decode()])
def test_text_that_is_no_sealed_secret_is_refused_as_such(text):
    with pytest.raises(ValueError, match="not a sealed secret"):
        sealing.unseal(KEY, "alice", text)


@given(text=st.text(max_size=80))
def test_any_text_either_opens_or_is_refused_cleanly(text):
    with contextlib.suppress(ValueError, InvalidTag):  # any other exception fails the test
        sealing.unseal(KEY, "alice", text)


@given(secret=st.binary(max_size=64), username=st.text(max_size=150))
def test_sealing_round_trips_for_any_user_and_secret(secret, username):
    assert sealing.unseal(KEY, username, sealing.seal(KEY, username, secret)) == secret
