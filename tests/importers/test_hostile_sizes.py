"""Counts and sizes declared inside an import file are bounded before anything is allocated or derived.

Each property runs under an address-space limit (``memory_capped``): an importer that trusted a declared
size would die with a MemoryError there instead of answering with its own ImportFailed.
"""

from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from native_host.errors import ImportFailed, ImportWrongPassword
from native_host.vault.importers import import_bytes
from native_host.vault.importers._common import MAX_SCRYPT_MEMORY, pbkdf2
from native_host.vault.importers.aegis import MAX_PASSWORD_SLOTS, MAX_SLOTS
from native_host.vault.importers.google import MAX_BATCH_SIZE
from tests.importers.support import memory_capped
from tests.importers.test_google_migration import field_bytes, otp, payload, uri, varint

HOSTILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PASSWORD = "hostile"
HUGE = st.one_of(st.integers(2**20, 2**64 - 1), st.sampled_from([2**31 - 1, 2**32, 2**63 - 1, 2**64 - 1]))


def _google(batch_size: int, batch_index: int) -> bytes:
    return uri(payload(otp(), batch_size=batch_size, batch_index=batch_index)).encode()


@HOSTILE
@given(batch_size=HUGE.filter(lambda n: n > MAX_BATCH_SIZE), batch_index=st.integers(0, 2**64 - 1))
@example(batch_size=2**62, batch_index=0)  # the 150-byte file of the report
def test_a_google_export_claiming_millions_of_qr_codes_is_refused(batch_size, batch_index):
    with memory_capped(), pytest.raises(ImportFailed, match=f"at most {MAX_BATCH_SIZE} are plausible"):
        import_bytes(_google(batch_size, batch_index))


@HOSTILE
@given(batch_size=st.integers(2, MAX_BATCH_SIZE), batch_index=HUGE)
def test_a_google_qr_code_numbered_beyond_its_export_is_refused(batch_size, batch_index):
    with memory_capped(), pytest.raises(ImportFailed, match=f"of an export of {batch_size} codes"):
        import_bytes(_google(batch_size, batch_index))


@HOSTILE
@given(declared=HUGE, field=st.integers(1, 7))
def test_a_protobuf_length_beyond_the_data_is_refused(declared, field):
    body = varint(field << 3 | 2) + varint(declared) + b"\x00" * 16
    with memory_capped(), pytest.raises(ImportFailed, match="runs past the end of the data"):
        import_bytes(uri(field_bytes(1, otp()) + body).encode())


def _aegis(slots: list[dict]) -> bytes:
    header = {"slots": slots, "params": {"nonce": os.urandom(12).hex(), "tag": os.urandom(16).hex()}}
    return json.dumps({"version": 1, "header": header, "db": base64.b64encode(b"x" * 32).decode()}).encode()


def _aegis_slot(n: int, r: int, p: int) -> dict:
    nonce = os.urandom(12)
    wrapped = AESGCM(os.urandom(32)).encrypt(nonce, os.urandom(32), None)
    return {"type": 1, "key": wrapped[:-16].hex(), "key_params": {"nonce": nonce.hex(), "tag": wrapped[-16:].hex()},
            "n": n, "r": r, "p": p, "salt": os.urandom(32).hex()}


@HOSTILE
@given(log2_n=st.integers(1, 40), r=st.one_of(st.integers(1, 40), HUGE), p=st.one_of(st.integers(1, 20), HUGE))
@example(log2_n=20, r=32, p=1)  # 4 GiB
@example(log2_n=17, r=16, p=1)  # 256 MiB: twice what any Aegis export needs
@example(log2_n=15, r=8, p=16)  # Aegis's memory, 16 times its CPU
def test_aegis_scrypt_parameters_beyond_the_bounds_are_refused_before_deriving(log2_n, r, p):
    needed = 128 * r * 2**log2_n
    out_of_bounds = needed > MAX_SCRYPT_MEMORY or p > 2 or r * p >= 2**30 or log2_n >= 16 * r
    assume(out_of_bounds)
    with memory_capped(), pytest.raises(ImportFailed, match="implausible scrypt parameters"):
        import_bytes(_aegis([_aegis_slot(2**log2_n, r, p)]), password=PASSWORD)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extra=st.integers(1, 300))
def test_an_aegis_file_with_too_many_slots_is_refused_before_any_key_derivation(extra):
    slots = [_aegis_slot(2**4, 8, 1) for _ in range(MAX_SLOTS + extra)]
    with pytest.raises(ImportFailed, match="key slots"):
        import_bytes(_aegis(slots), password=PASSWORD)


def test_an_aegis_file_with_many_password_slots_is_refused_before_any_key_derivation():
    slots = [_aegis_slot(2**4, 8, 1) for _ in range(MAX_PASSWORD_SLOTS + 1)]
    with pytest.raises(ImportFailed, match="password slots"):
        import_bytes(_aegis(slots), password=PASSWORD)


def test_aegis_scrypt_parameters_that_scrypt_itself_rejects_are_refused():
    # r = 1 allows N below 2^16 only; OpenSSL answers anything larger with a MemoryError.
    with pytest.raises(ImportFailed, match="needs r of at least 2"):
        import_bytes(_aegis([_aegis_slot(2**16, 1, 1)]), password=PASSWORD)


def test_aegis_default_scrypt_parameters_are_accepted():
    # Aegis writes N = 2^15, r = 8, p = 1: within bounds, so a wrong key is just a wrong password.
    with pytest.raises(ImportWrongPassword):
        import_bytes(_aegis([_aegis_slot(2**15, 8, 1)]), password=PASSWORD)


def test_a_pbkdf2_iteration_count_above_the_bound_is_refused_without_deriving():
    with pytest.raises(ImportFailed, match="implausible key-derivation iteration count"):
        pbkdf2(PASSWORD, b"salt" * 4, 5_000_000)  # andOTP writes at most 160,000
