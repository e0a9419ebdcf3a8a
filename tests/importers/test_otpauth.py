"""otpauth:// URI parsing and building."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from native_host.errors import InvalidSecret, InvalidUri
from native_host.vault.entry import Entry, typed_secret
from native_host.vault.otpauth import entry_to_otpauth_uri, parse_otpauth_uri, parse_uri_list

# Timing is not under test; a loaded CI machine must not turn slow examples into failures.
NO_DEADLINE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

SECRET = "JBSWY3DPEHPK3PXP"


def test_totp_uri_with_all_parameters_is_read():
    e = parse_otpauth_uri(
        "otpauth://totp/ACME%20Co:john@example.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co"
        "&algorithm=SHA256&digits=8&period=60"
    )
    assert (e.kind, e.issuer, e.account, e.secret) == ("totp", "ACME Co", "john@example.com", SECRET)
    assert (e.algorithm, e.digits, e.period) == ("SHA256", 8, 60)


def test_defaults_are_sha1_six_digits_thirty_seconds():
    e = parse_otpauth_uri(f"otpauth://totp/alice?secret={SECRET}")
    assert (e.algorithm, e.digits, e.period, e.issuer, e.account) == ("SHA1", 6, 30, "", "alice")


def test_hotp_uri_keeps_its_counter():
    e = parse_otpauth_uri(f"otpauth://hotp/Issuu:James?secret={SECRET}&counter=42")
    assert (e.kind, e.counter) == ("hotp", 42)


def test_hotp_uri_without_counter_is_rejected():
    with pytest.raises(InvalidUri, match="counter"):
        parse_otpauth_uri(f"otpauth://hotp/x?secret={SECRET}")


def test_lowercase_secret_with_spaces_and_padding_is_accepted():
    e = parse_otpauth_uri("otpauth://totp/x?secret=jbsw%20y3dp%20ehpk%203pxp====")
    assert e.secret == SECRET


def test_secret_with_missing_padding_is_accepted():
    e = parse_otpauth_uri("otpauth://totp/x?secret=4SJHB4GSD43FZBAI7C2HLRJGPQ")
    assert e.secret == "4SJHB4GSD43FZBAI7C2HLRJGPQ"


def test_issuer_parameter_wins_over_label_prefix():
    e = parse_otpauth_uri(f"otpauth://totp/Old:bob?secret={SECRET}&issuer=New")
    assert (e.issuer, e.account) == ("New", "bob")


def test_label_prefix_is_the_issuer_when_no_parameter():
    e = parse_otpauth_uri(f"otpauth://totp/Deno:Mason?secret={SECRET}")
    assert (e.issuer, e.account) == ("Deno", "Mason")


def test_url_encoded_colon_separates_issuer_and_account():
    e = parse_otpauth_uri(f"otpauth://totp/Example%3Aalice%40example.com?secret={SECRET}")
    assert (e.issuer, e.account) == ("Example", "alice@example.com")


def test_plus_in_issuer_parameter_means_space():
    e = parse_otpauth_uri(f"otpauth://hotp/Air%20Canada:Benjamin?secret={SECRET}&issuer=Air+Canada&counter=1")
    assert e.issuer == "Air Canada"


def test_encoder_steam_makes_a_steam_entry():
    e = parse_otpauth_uri(f"otpauth://totp/Steam:gabe?secret={SECRET}&encoder=steam")
    assert (e.kind, e.digits, e.period) == ("steam", 5, 30)


def test_steam_type_is_accepted():
    assert parse_otpauth_uri(f"otpauth://steam/Boeing:Sophia?secret={SECRET}&digits=5").kind == "steam"


def test_issuer_steam_with_five_digits_is_steam():
    assert parse_otpauth_uri(f"otpauth://totp/Steam:gabe?secret={SECRET}&digits=5").kind == "steam"


def test_issuer_steam_with_six_digits_stays_totp():
    assert parse_otpauth_uri(f"otpauth://totp/Steam:gabe?secret={SECRET}").kind == "totp"


def test_lowercase_algorithm_is_normalised():
    assert parse_otpauth_uri(f"otpauth://totp/x?secret={SECRET}&algorithm=sha512").algorithm == "SHA512"


def test_unknown_parameters_are_ignored():
    e = parse_otpauth_uri(f"otpauth://totp/x?secret={SECRET}&codeDisplay=%7B%7D&image=https%3A%2F%2Fa")
    assert e.secret == SECRET


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("", "empty"),
        ("https://example.com/?secret=JBSWY3DPEHPK3PXP", "scheme"),
        ("otpauth://motp/x?secret=JBSWY3DPEHPK3PXP", "unknown OTP type"),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=five", "digits"),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=9", "digits"),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0", "period"),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5", "algorithm"),
        ("otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=-1", "counter must be between"),
        ("otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=9223372036854775808", "counter must be between"),
        ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP\n", None),
    ],
)
def test_malformed_uri_is_rejected_with_a_named_problem(uri, problem):
    if problem is None:  # surrounding whitespace is tolerated
        assert parse_otpauth_uri(uri).secret == SECRET
        return
    with pytest.raises(InvalidUri, match=problem):
        parse_otpauth_uri(uri)


def test_missing_secret_is_an_invalid_secret():
    with pytest.raises(InvalidSecret, match="no secret"):
        parse_otpauth_uri("otpauth://totp/x?issuer=a")


def test_non_base32_secret_is_an_invalid_secret():
    with pytest.raises(InvalidSecret, match="Base32"):
        parse_otpauth_uri("otpauth://totp/x?secret=not*base32!")


def test_empty_secret_is_an_invalid_secret():
    with pytest.raises(InvalidSecret, match="empty"):
        parse_otpauth_uri("otpauth://totp/x?secret=")


def test_built_uri_of_a_steam_entry_says_encoder_steam():
    uri = entry_to_otpauth_uri(Entry(secret=SECRET, kind="steam", issuer="Steam", account="gabe"))
    assert uri.startswith("otpauth://totp/Steam:gabe?") and "encoder=steam" in uri and "digits=5" in uri


def test_uri_list_skips_blank_lines_and_comments():
    text = f"# exported\n\notpauth://totp/a?secret={SECRET}\n   \n# more\notpauth://hotp/b?secret={SECRET}&counter=3\n"
    assert [e.account for e in parse_uri_list(text)] == ["a", "b"]


def test_uri_list_names_the_bad_line():
    with pytest.raises(InvalidUri, match="line 2"):
        parse_uri_list(f"otpauth://totp/a?secret={SECRET}\notpauth://nope/b?secret={SECRET}")


# Label text: printable, no leading/trailing space (labels are stripped), no NUL/control characters.
_label_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30
).map(str.strip)
_secrets = st.binary(min_size=10, max_size=64)  # 80 bits at least (MIN_SECRET_CHARS)


@st.composite
def entries(draw):
    import base64

    kind = draw(st.sampled_from(["totp", "hotp", "steam"]))
    return Entry(
        secret=base64.b32encode(draw(_secrets)).decode(),
        kind=kind,
        issuer=draw(_label_text),
        account=draw(_label_text),
        algorithm=draw(st.sampled_from(["SHA1", "SHA256", "SHA512"])),
        digits=draw(st.integers(6, 8)),
        period=draw(st.integers(1, 86400)),
        counter=draw(st.integers(0, 2**63 - 1)),
    )


@NO_DEADLINE
@given(entries())
def test_uri_round_trip_keeps_every_otp_field(entry):
    back = parse_otpauth_uri(entry_to_otpauth_uri(entry))
    fields = ("secret", "kind", "issuer", "account", "algorithm", "digits")
    assert {f: getattr(back, f) for f in fields} == {f: getattr(entry, f) for f in fields}
    if entry.kind == "hotp":
        assert back.counter == entry.counter
    else:
        assert back.period == entry.period


@NO_DEADLINE
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_uri_or_secret_errors(text):
    with contextlib.suppress(InvalidUri, InvalidSecret):
        parse_otpauth_uri(text)


@NO_DEADLINE
@given(st.text(alphabet="otpauth:/?&=%+ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcdefghijklmnopqrstuvwxyz0123456789-",
               max_size=200))
def test_uri_like_text_raises_only_uri_or_secret_errors(text):
    with contextlib.suppress(InvalidUri, InvalidSecret):
        parse_otpauth_uri("otpauth://" + text)


def test_period_on_an_hotp_uri_is_ignored():
    e = parse_otpauth_uri(f"otpauth://hotp/x?secret={SECRET}&counter=5&period=0")
    assert (e.kind, e.counter) == ("hotp", 5)


@NO_DEADLINE
@given(st.lists(entries(), min_size=1, max_size=5), st.lists(st.sampled_from(["", "# note", "   "]), max_size=3))
def test_uri_list_round_trip_keeps_order_and_ignores_comments(items, noise):
    lines = [*noise, *(entry_to_otpauth_uri(e) for e in items), *noise]
    back = parse_uri_list("\n".join(lines))
    assert [(e.secret, e.issuer, e.account) for e in back] == [(e.secret, e.issuer, e.account) for e in items]


@pytest.mark.parametrize("short", ["JBSWY3DP", "ABC", "JBSWY3DPEHPK3PX"])
def test_a_typed_secret_too_short_says_so_with_the_minimum_not_that_it_is_not_base32(short):
    with pytest.raises(InvalidSecret, match=r"too short: \d+ characters; a TOTP secret has at least 16") as refused:
        typed_secret(short)
    assert "not valid Base32" not in str(refused.value)


def test_a_short_secret_in_a_uri_is_kept_as_given():
    # A QR code or another app's export carries the whole secret the site issued: refusing a short one would
    # lock the user out of that account. Only a secret typed by hand is held to the minimum.
    assert parse_otpauth_uri("otpauth://totp/x?secret=JBSWY3DP").secret == "JBSWY3DP"


def test_a_stray_character_is_named():
    with pytest.raises(InvalidSecret, match=r"not valid Base32: '1' is not one of its letters"):
        parse_otpauth_uri("otpauth://totp/x?secret=JBSWY3DPEHPK3PX1")


def test_a_length_base32_never_has_says_a_character_is_missing_or_extra():
    with pytest.raises(InvalidSecret, match="17 characters are not a length Base32 text has"):
        parse_otpauth_uri("otpauth://totp/x?secret=JBSWY3DPEHPK3PXPA")
