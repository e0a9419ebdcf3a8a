"""Codes: RFC 4226 / RFC 6238 vectors through the vault, HOTP counters, Steam codes, agreement with pyotp."""

from __future__ import annotations

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from native_host.vault import VaultFile, otp
from native_host.vault.entry import Entry, secret_from_bytes

from .conftest import PASSWORD

# RFC 6238 appendix B: seeds per algorithm, 8 digits, 30-second steps.
RFC6238_SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC6238_VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
# RFC 4226 appendix D: HOTP values for counters 0..9 of the ASCII seed "12345678901234567890".
RFC4226_VALUES = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]


@pytest.mark.parametrize(("now", "sha1", "sha256", "sha512"), RFC6238_VECTORS)
def test_rfc6238_vectors_come_out_of_the_vault(vault, now, sha1, sha256, sha512):
    for algorithm, expected in (("SHA1", sha1), ("SHA256", sha256), ("SHA512", sha512)):
        entry = vault.add(Entry(secret=secret_from_bytes(RFC6238_SEEDS[algorithm]), algorithm=algorithm, digits=8))
        assert vault.code(entry.id, None, now=now)[0] == expected


def test_the_seconds_left_count_down_to_the_end_of_the_period(vault):
    entry = vault.entries()[0]
    assert vault.code(entry.id, None, now=60.0)[1] == 30
    assert vault.code(entry.id, None, now=89.2)[1] == 1
    assert vault.code(entry.id, None, now=75.0)[1] == 15


def test_hotp_codes_follow_rfc4226_and_advance_the_saved_counter(vault, vault_path):
    entry = vault.add(Entry(secret=secret_from_bytes(b"12345678901234567890"), kind="hotp"))
    assert [vault.code(entry.id, None)[0] for _ in range(5)] == RFC4226_VALUES[:5]
    reopened = VaultFile(vault_path).unlock(PASSWORD)
    assert reopened.get(entry.id).counter == 5
    assert reopened.code(entry.id, None) == (RFC4226_VALUES[5], 0)


def test_two_open_vaults_never_hand_out_the_same_hotp_code(vault, vault_path):
    entry = vault.add(Entry(secret=secret_from_bytes(b"12345678901234567890"), kind="hotp"))
    other = VaultFile(vault_path).unlock(PASSWORD)
    codes = [vault.code(entry.id, None)[0], other.code(entry.id, None)[0], vault.code(entry.id, None)[0]]
    assert codes == RFC4226_VALUES[:3]


def test_steam_codes_match_the_steam_totp_known_answer():
    # Raw shared secret b"foo" at t=1024 gives TXNN5 (as in the steam_totp tests). Too short for the vault,
    # which wants 80 bits (Steam's own secrets have 160), so the code function is asked directly.
    assert otp.steam(b"foo", 1024) == "TXNN5"


def test_steam_codes_use_steams_alphabet_and_five_characters(vault):
    key = b"steam shared secret!"  # 160 bits, as Steam issues them
    entry = vault.add(Entry(secret=secret_from_bytes(key), kind="steam", issuer="Steam"))
    code = vault.code(entry.id, None, now=1024)[0]
    assert code == otp.steam(key, 1024) and len(code) == 5 and set(code) <= set("23456789BCDFGHJKMNPQRTVWXY")
    assert entry.digits == 5


def test_an_80_bit_secret_gives_codes_too(vault):
    entry = vault.add(Entry(secret="JBSWY3DPEHPK3PXP"))
    assert vault.code(entry.id, None, now=59)[0] == otp.hotp(b"Hello!\xde\xad\xbe\xef", 1)


@settings(max_examples=200, deadline=None)
@given(
    raw=st.binary(min_size=14, max_size=64),
    now=st.integers(0, 2**34),
    digits=st.integers(6, 8),
    period=st.integers(1, 120),  # pyotp refuses longer periods (SP 800-63B-4); the vault does not
    algorithm=st.sampled_from(["SHA1", "SHA256", "SHA512"]),
)
def test_totp_agrees_with_pyotp(raw, now, digits, period, algorithm):
    import hashlib

    reference = pyotp.TOTP(secret_from_bytes(raw), digits=digits, interval=period,
                           digest=getattr(hashlib, algorithm.lower()))
    assert otp.totp(raw, now, digits=digits, period=period, algorithm=algorithm) == reference.at(now)


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(min_size=14, max_size=64), counter=st.integers(0, 2**63 - 1))
def test_hotp_agrees_with_pyotp(raw, counter):
    assert otp.hotp(raw, counter) == pyotp.HOTP(secret_from_bytes(raw)).at(counter)
