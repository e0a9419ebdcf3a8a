"""Import errors read as English: "this is not a valid Aegis file", never "this is not a Aegis file"."""

from __future__ import annotations

import re

import pytest

from native_host.errors import ImportFailed, InvalidSecret, InvalidUri
from native_host.vault.importers import FORMATS, import_bytes

# "a" before a vowel sound (the format titles: Aegis, andOTP, Authenticator Pro, Authy, Ente, otpauth, ...).
# "u" is left out: "a user" is right.
WRONG_ARTICLE = re.compile(r"\ba [AEIOaeio]\w")

BROKEN_FILES = {
    "not UTF-8": b"\xc3\x28 not text",
    "broken JSON": b'{"version": 1,',
    "JSON of the wrong kind": b'"just a string"',
    "XML with another root": b"<?xml version='1.0'?><notmap/>",
    "empty JSON object": b"{}",
    "empty JSON list": b"[]",
}


def _message(data: bytes, fmt: str) -> str:
    with pytest.raises((ImportFailed, InvalidUri, InvalidSecret)) as info:
        import_bytes(data, format=fmt, password="a password")
    return str(info.value)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("kind", sorted(BROKEN_FILES))
def test_an_import_error_never_puts_a_before_a_vowel(fmt, kind):
    message = _message(BROKEN_FILES[kind], fmt)
    assert not WRONG_ARTICLE.search(message), message


def test_a_non_utf8_aegis_file_is_called_not_a_valid_aegis_file():
    assert _message(b"\xc3\x28 not text", "aegis") == "this is not a valid Aegis file: it is not UTF-8 text"


def test_a_file_without_accounts_names_the_app_as_people_know_it():
    assert _message(b"[]", "andotp") == "the andOTP file holds no accounts"
