"""``auto`` needs a structure an app really writes: random bytes are "not recognised", never a password prompt."""

from __future__ import annotations

import base64
import os

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from native_host.errors import (
    ImportFailed,
    ImportNeedsPassword,
    ImportWrongPassword,
    InvalidSecret,
    InvalidUri,
    UnknownImportFormat,
)
from native_host.vault.importers import FORMATS, import_bytes, sniff_format
from native_host.vault.importers.andotp import WRITTEN_ITERATIONS
from native_host.vault.importers.authpro import HEADER, LEGACY_HEADER

AUTHPRO_HEADERS = (HEADER, LEGACY_HEADER)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOT_ABOUT_A_PASSWORD = (UnknownImportFormat, InvalidUri, InvalidSecret)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _import_error(data: bytes) -> ImportFailed | InvalidUri | InvalidSecret | None:
    try:
        import_bytes(data)
    except (ImportFailed, InvalidUri, InvalidSecret) as exc:
        return exc
    return None


def _starts_with_a_header(data: bytes) -> bool:
    """Bytes that begin as an encrypted format does are structure, not chance (Hypothesis mines such constants)."""
    return data.startswith(AUTHPRO_HEADERS) or int.from_bytes(data[:4], "big") in WRITTEN_ITERATIONS


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_never_ask_for_a_password(data):
    assume(not _starts_with_a_header(data))
    error = _import_error(data)
    assert not isinstance(error, ImportNeedsPassword | ImportWrongPassword), error


@FUZZ
@given(st.sampled_from(AUTHPRO_HEADERS), st.binary(max_size=43))
def test_a_header_with_too_little_after_it_is_called_truncated_before_any_password(header, rest):
    with pytest.raises(ImportFailed, match="truncated"):
        import_bytes(header + rest)


@FUZZ
@given(st.binary(min_size=46, max_size=4096))
def test_a_random_binary_file_is_not_recognised_and_the_error_lists_every_format(data):
    assume(not _is_utf8(data) and not _starts_with_a_header(data))
    with pytest.raises(UnknownImportFormat) as info:
        import_bytes(data)
    assert "format not recognised" in info.value.message
    assert all(name in info.value.message for name in FORMATS)


def test_a_random_file_the_size_of_a_backup_is_not_taken_for_an_encrypted_andotp_backup():
    # The report: 1.5 KB of random bytes, saved as random.bin, asked for a file password.
    for _ in range(50):
        with pytest.raises(UnknownImportFormat, match="format not recognised"):
            import_bytes(os.urandom(1536))


@FUZZ
@given(st.integers(0, 2**32 - 1), st.binary(min_size=42, max_size=600))
def test_an_andotp_header_counts_only_with_an_iteration_count_andotp_writes(iterations, rest):
    data = iterations.to_bytes(4, "big") + rest
    if iterations in WRITTEN_ITERATIONS:
        assert sniff_format(data) == "andotp"
    else:
        assume(not _is_utf8(data))
        with pytest.raises(UnknownImportFormat):
            sniff_format(data)


@pytest.mark.parametrize("size", [0, 1, 41])
def test_an_andotp_header_too_short_to_hold_salt_nonce_and_tag_is_not_recognised(size):
    data = (150_000).to_bytes(4, "big") + b"\xff" * size
    with pytest.raises(UnknownImportFormat):
        sniff_format(data)


def test_a_binary_file_named_as_andotp_names_its_backups_is_read_as_andotp():
    assert sniff_format(os.urandom(600), "otp_accounts_2021-03-04_10-11-12.json.aes") == "andotp"


def test_a_binary_file_with_another_name_is_not_read_as_andotp():
    with pytest.raises(UnknownImportFormat):
        sniff_format(b"\xff" + os.urandom(600), "random.bin")


@FUZZ
@given(st.binary(min_size=1, max_size=400))
def test_base64_text_of_anything_but_whole_aes_blocks_is_not_a_totp_authenticator_backup(raw):
    assume(len(raw) < 32 or len(raw) % 16)
    text = base64.b64encode(raw)
    error = _import_error(text)
    assert isinstance(error, NOT_ABOUT_A_PASSWORD) or sniff_format(text) != "totp-authenticator", error


@FUZZ
@given(st.integers(2, 60))
def test_base64_text_of_whole_aes_blocks_is_taken_for_a_totp_authenticator_backup(blocks):
    assert sniff_format(base64.b64encode(os.urandom(16 * blocks))) == "totp-authenticator"


def test_a_word_made_of_base64_letters_is_not_a_backup():
    with pytest.raises(UnknownImportFormat):
        import_bytes(b"AAAA")
