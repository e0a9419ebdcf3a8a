"""Backup-code rules: count, entropy, formatting, salted scrypt hashes (pure functions)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.core import backup

FAST = backup.HashParams(n=2**10)


def test_ten_distinct_codes_are_generated():
    codes = backup.generate_codes()
    assert len(codes) == 10 and len(set(codes)) == 10


def test_each_code_carries_at_least_40_bits():
    assert backup.ENTROPY_BITS >= 40


def test_a_code_verifies_against_its_hash():
    code = backup.generate_codes(1)[0]
    assert backup.check_code(code, backup.hash_code(code, FAST))


def test_another_code_does_not_verify():
    a, b = backup.generate_codes(2)
    assert not backup.check_code(b, backup.hash_code(a, FAST))


def test_the_same_code_hashes_differently_each_time():
    code = backup.generate_codes(1)[0]
    assert backup.hash_code(code, FAST) != backup.hash_code(code, FAST)


def test_the_hash_does_not_contain_the_code():
    code = backup.generate_codes(1)[0]
    assert backup.normalize(code) not in backup.hash_code(code, FAST)


def test_case_spaces_and_dashes_do_not_matter():
    code = backup.generate_codes(1)[0]
    stored = backup.hash_code(code, FAST)
    assert backup.check_code(code.upper().replace("-", " "), stored)


def test_a_corrupt_stored_hash_never_verifies():
    assert not backup.check_code(backup.generate_codes(1)[0], "garbage")


@settings(max_examples=50)
@given(text=st.text(max_size=40))
def test_normalize_accepts_only_well_formed_codes(text):
    result = backup.normalize(text)
    assert result is None or (len(result) == backup.CODE_CHARS and set(result) <= set(backup._ALPHABET))


@settings(max_examples=20, deadline=None)
@given(text=st.text(max_size=30))
def test_arbitrary_text_never_verifies_against_a_real_code(text):
    code = "abcd-efgh-jkmn"
    stored = backup.hash_code(code, FAST)
    if backup.normalize(text) != backup.normalize(code):
        assert not backup.check_code(text, stored)


# ---- lookup tags ----------------------------------------------------------------------------------------------
KEY = backup.lookup_key(b"k" * 32)


def test_generated_codes_have_distinct_lookup_tags_that_match_their_codes():
    pairs = backup.generate_tagged_codes(KEY)
    assert len(pairs) == backup.CODE_COUNT and len({tag for _c, tag in pairs}) == backup.CODE_COUNT
    assert all(backup.lookup_tag(code, KEY) == tag for code, tag in pairs)


def test_a_lookup_tag_is_short_and_depends_on_the_server_key():
    codes = backup.generate_codes()
    tags = [backup.lookup_tag(c, KEY) for c in codes]
    other = [backup.lookup_tag(c, backup.lookup_key(b"j" * 32)) for c in codes]
    assert all(t is not None and len(t) == 2 * backup.LOOKUP_TAG_BYTES for t in tags)
    assert tags != other  # 24-bit tags: one may coincide, ten in a row do not


@settings(max_examples=50)
@given(text=st.text(max_size=40))
def test_the_lookup_tag_ignores_what_normalize_ignores_and_refuses_what_it_refuses(text):
    tag = backup.lookup_tag(text, KEY)
    cleaned = backup.normalize(text)
    assert (tag is None) == (cleaned is None)
    if cleaned is not None:
        assert tag == backup.lookup_tag(cleaned.upper(), KEY)
