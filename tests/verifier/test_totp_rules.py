"""TOTP rules: RFC 6238 vectors, window edges, code normalization (pure functions, no store)."""

from __future__ import annotations

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.core import totp
from verifier.core.totp import TotpParams

# RFC 6238 Appendix B: seeds are the ASCII digits repeated to the hash's block-friendly length.
SEEDS = {"SHA1": b"12345678901234567890", "SHA256": b"12345678901234567890123456789012",
         "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234"}
VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("when", "sha1", "sha256", "sha512"), VECTORS)
def test_rfc6238_vectors(when, sha1, sha256, sha512):
    for algorithm, expected in (("SHA1", sha1), ("SHA256", sha256), ("SHA512", sha512)):
        params = TotpParams(digits=8, algorithm=algorithm)
        assert totp.totp(SEEDS[algorithm], when, params) == expected


def test_times_past_2038_use_a_counter_beyond_32_bits():
    assert totp.time_step(20000000000, 30) == 666666666
    assert totp.time_step(2**40, 30) > 2**32


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_codes_one_step_either_side_are_accepted(offset):
    secret, now = b"k" * 20, 1_800_000_015.0
    code = totp.totp(secret, now + offset * 30)
    assert totp.match_step(secret, code, now, TotpParams()) == totp.time_step(now, 30) + offset


@pytest.mark.parametrize("offset", [-2, 2, 5])
def test_codes_two_or_more_steps_away_are_refused(offset):
    secret, now = b"k" * 20, 1_800_000_015.0
    code = totp.totp(secret, now + offset * 30)
    # Guard against the (1 in 10^6) chance that the far code equals a nearby one.
    nearby = {totp.totp(secret, now + d * 30) for d in (-1, 0, 1)}
    if code not in nearby:
        assert totp.match_step(secret, code, now, TotpParams()) is None


def test_window_zero_accepts_only_the_current_step():
    secret, now = b"k" * 20, 1_800_000_015.0
    assert totp.match_step(secret, totp.totp(secret, now), now, TotpParams(window=0)) is not None
    previous = totp.totp(secret, now - 30)
    if previous != totp.totp(secret, now):
        assert totp.match_step(secret, previous, now, TotpParams(window=0)) is None


def test_the_step_boundary_belongs_to_the_next_step():
    assert totp.time_step(1_800_000_000.0 - 0.001, 30) == totp.time_step(1_800_000_000.0, 30) - 1


@pytest.mark.parametrize("bad", ["", "12345", "123456789", "12a456", "١٢٣٤٥٦", "12 34 5"])
def test_malformed_codes_never_match(bad):
    assert totp.match_step(b"k" * 20, bad, 1_800_000_000.0, TotpParams()) is None


def test_spaces_inside_a_code_are_ignored():
    secret, now = b"k" * 20, 1_800_000_000.0
    code = totp.totp(secret, now)
    assert totp.match_step(secret, f"{code[:3]} {code[3:]}", now, TotpParams()) is not None


def test_a_code_of_the_wrong_length_is_refused():
    secret, now = b"k" * 20, 1_800_000_000.0
    eight = totp.totp(secret, now, TotpParams(digits=8))
    assert totp.match_step(secret, eight, now, TotpParams(digits=6)) is None


@pytest.mark.parametrize("kwargs", [{"digits": 5}, {"period": 0}, {"algorithm": "MD5"}, {"window": 11}])
def test_invalid_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        TotpParams(**kwargs)


@given(secret=st.binary(min_size=20, max_size=64), now=st.floats(min_value=0, max_value=253402300799),
       algorithm=st.sampled_from(["SHA1", "SHA256", "SHA512"]), digits=st.sampled_from([6, 8]))
def test_codes_agree_with_pyotp(secret, now, algorithm, digits):
    import base64
    import hashlib

    reference = pyotp.TOTP(base64.b32encode(secret).decode(), digits=digits,
                           digest=getattr(hashlib, algorithm.lower()))
    assert totp.totp(secret, now, TotpParams(digits=digits, algorithm=algorithm)) == reference.at(int(now))


@given(secret=st.binary(min_size=16, max_size=32), now=st.floats(min_value=60, max_value=2**36),
       offset=st.integers(min_value=-1, max_value=1))
def test_any_code_inside_the_window_matches_a_step_inside_the_window(secret, now, offset):
    code = totp.totp(secret, now + offset * 30)
    step = totp.match_step(secret, code, now, TotpParams())
    assert step is not None and abs(step - totp.time_step(now, 30)) <= 1


@given(text=st.text(max_size=20))
def test_normalize_code_returns_digits_only_or_none(text):
    result = totp.normalize_code(text)
    assert result is None or (result.isdigit() and result.isascii() and 6 <= len(result) <= 8)


def test_the_otpauth_uri_round_trips_through_pyotp():
    uri = totp.otpauth_uri(b"s" * 20, "alice@example.com", "Jibra", TotpParams())
    parsed = pyotp.parse_uri(uri)
    assert parsed.secret == totp.b32(b"s" * 20)
    assert parsed.issuer == "Jibra" and parsed.name == "alice@example.com"


@given(issuer=st.text(max_size=100).filter(lambda t: ":" not in t and t.isprintable() and t.strip() == t and t),
       digits=st.sampled_from([6, 7, 8]), period=st.integers(15, 300),
       algorithm=st.sampled_from(["SHA1", "SHA256", "SHA512"]))
def test_any_issuer_and_parameters_the_policy_allows_survive_the_otpauth_uri(issuer, digits, period, algorithm):
    from urllib.parse import parse_qs, unquote, urlsplit

    from verifier.core.policy import Policy

    Policy.validated("all", issuer=issuer)  # an issuer an admin may choose
    uri = totp.otpauth_uri(b"s" * 20, "bob", issuer, TotpParams(digits, period, algorithm))
    parts = urlsplit(uri)
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    assert unquote(parts.path.lstrip("/")) == f"{issuer}:bob"
    assert (query["issuer"], query["digits"], query["period"], query["algorithm"]) == (issuer, str(digits),
                                                                                       str(period), algorithm)


def test_the_qr_code_is_an_svg():
    assert totp.qr_svg("otpauth://totp/x?secret=AAAA").lstrip().startswith("<svg")


def test_a_secret_shorter_than_112_bits_is_refused():
    with pytest.raises(ValueError, match="at least 112 bits"):
        totp.totp(b"k" * 13, 1_800_000_000.0)  # 104 bits


def test_a_112_bit_secret_is_accepted():
    assert totp.normalize_code(totp.totp(b"k" * 14, 1_800_000_000.0)) is not None


def test_the_verifiers_own_secrets_are_160_bits():
    assert len(totp.new_secret()) * 8 == 160 >= totp.MIN_SECRET_BITS


@pytest.mark.parametrize(("step", "last", "replay"), [(100, 99, False), (100, 100, True), (99, 100, True)])
def test_a_step_at_or_before_the_last_accepted_one_is_a_replay(step, last, replay):
    assert totp.already_used(step, last) is replay


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_drift_is_the_accepted_steps_distance_from_the_clock(offset):
    now = 1_800_000_015.0
    assert totp.drift_of(totp.time_step(now, 30) + offset, now, 30) == offset


def test_the_window_stays_centred_on_the_clock():
    # match_step takes no drift: a code two steps ahead never matches, whatever drift was recorded before.
    secret, now = b"k" * 20, 1_800_000_015.0
    ahead = totp.totp(secret, now + 60)
    if ahead not in {totp.totp(secret, now + d * 30) for d in (-1, 0, 1)}:
        assert totp.match_step(secret, ahead, now, TotpParams()) is None


def test_an_enrolment_lapses_at_its_lifetime():
    assert totp.enrolment_fresh(1000.0, 3600.0, 4599.9)
    assert not totp.enrolment_fresh(1000.0, 3600.0, 4600.0)
