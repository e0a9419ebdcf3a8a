"""KDF parameters and slot counts in a vault header: anything a reader accepts is cheap and runnable."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from native_host.errors import VaultCorrupt
from native_host.vault.crypto import KDF_COSTS
from native_host.vault.format import MAX_SLOTS, SCRYPT_MAX_MEMORY, build_vault, check_kdf, parse_vault

SALT = base64.b64encode(bytes(32)).decode()
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WHOLE = st.one_of(st.integers(-4, 70), st.integers(-(2**70), 2**70), st.sampled_from([True, 1.5, "17", None]))


def _vault_bytes(slots: list[dict[str, Any]]) -> bytes:
    header = {"cipher": "aes-256-gcm", "nonce": base64.b64encode(bytes(12)).decode(), "slots": slots}
    return build_vault(header, bytes(32))


def _password_slot(kdf: dict[str, Any]) -> dict[str, Any]:
    return {"type": "password", "id": "0" * 32, "kdf": {**kdf, "salt": SALT},
            "nonce": base64.b64encode(bytes(12)).decode(), "key": base64.b64encode(bytes(48)).decode()}


@pytest.mark.parametrize(("kdf", "cost"), [(k, c) for k in KDF_COSTS for c in KDF_COSTS[k]])
def test_every_preset_we_write_is_within_the_bounds_we_read(kdf, cost):
    check_kdf({"name": kdf, **KDF_COSTS[kdf][cost], "salt": SALT})


@PROPERTY
@given(log2_n=WHOLE, r=WHOLE, p=WHOLE)
@example(log2_n=16, r=1, p=1)  # within the old bounds; OpenSSL raises MemoryError
@example(log2_n=22, r=32, p=16)  # 16 GiB: within the old bounds
def test_accepted_scrypt_parameters_obey_the_scrypt_rules_and_the_memory_bound(log2_n, r, p):
    try:
        parse_vault(_vault_bytes([_password_slot({"name": "scrypt", "log2_n": log2_n, "r": r, "p": p})]))
    except VaultCorrupt:
        return
    n = 2**log2_n
    assert n > 1 and r * p < 2**30 and n < 2 ** (16 * r)  # RFC 7914 §6, as OpenSSL enforces it
    assert 128 * r * n <= SCRYPT_MAX_MEMORY and p <= 2


@PROPERTY
@given(memory_kib=WHOLE | st.integers(0, 2**23), iterations=WHOLE, lanes=WHOLE)
@example(memory_kib=4 * 1024 * 1024, iterations=64, lanes=16)  # within the old bounds
def test_accepted_argon2id_parameters_stay_within_a_little_above_our_default(memory_kib, iterations, lanes):
    kdf = {"name": "argon2id", "memory_kib": memory_kib, "iterations": iterations, "lanes": lanes}
    try:
        parse_vault(_vault_bytes([_password_slot(kdf)]))
    except VaultCorrupt:
        return
    default = KDF_COSTS["argon2id"]["default"]
    assert memory_kib <= 4 * default["memory_kib"] and iterations <= 8 and lanes <= 4
    assert memory_kib >= 8 * lanes  # Argon2's own rule


@pytest.mark.parametrize("count", [MAX_SLOTS + 1, 200])
def test_a_header_with_more_slots_than_the_cap_is_corrupt(count):
    slot = _password_slot(KDF_COSTS["scrypt"]["minimum"] | {"name": "scrypt"})
    with pytest.raises(VaultCorrupt, match=f"{count} key slots"):
        parse_vault(_vault_bytes([slot] * count))


def test_a_header_with_slots_up_to_the_cap_parses():
    slot = _password_slot(KDF_COSTS["scrypt"]["minimum"] | {"name": "scrypt"})
    assert len(parse_vault(_vault_bytes([slot] * MAX_SLOTS)).header["slots"]) == MAX_SLOTS
