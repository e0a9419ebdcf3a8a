"""The TOTP settings the admin chooses (issue 23): new enrolments take the policy's digits, period, algorithm
and issuer; existing factors keep theirs; the accepted window applies to every verification. Codes are
computed by pyotp from the otpauth URI the verifier hands out (pyotp.parse_uri), never by the verifier's
own code. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest

from verifier.core import totp
from verifier.errors import InvalidPolicy
from verifier.service import Verifier
from verifier.store import open_store

from .conftest import enrol_totp, fast_settings

IP, UA = "198.51.100.7", "pytest"
ACME = {"totp_digits": 8, "totp_period": 60, "totp_algorithm": "SHA256", "totp_window": 2, "issuer": "Acme Jira"}


def set_acme(verifier: Verifier) -> None:
    verifier.update_policy(actor="pytest", **ACME)


def uri_params(uri: str) -> tuple[str, dict[str, str]]:
    """The label and the query of an otpauth URI, read with the standard library only."""
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    return unquote(parts.path.lstrip("/")), {k: v[0] for k, v in parse_qs(parts.query).items()}


def enrol_from_uri(verifier: Verifier, clock, username: str) -> pyotp.TOTP:
    """Create ``username`` and enrol it with a code pyotp computes from the URI; returns pyotp's TOTP."""
    verifier.create_user(username)
    app = pyotp.parse_uri(verifier.totp_enroll_begin(username).uri)
    assert verifier.totp_enroll_confirm(username, app.at(clock()), IP, UA).ok
    return app


def test_a_new_enrolment_uri_carries_the_policys_digits_period_algorithm_and_issuer(verifier):
    set_acme(verifier)
    verifier.create_user("bob")
    enrolment = verifier.totp_enroll_begin("bob")
    label, query = uri_params(enrolment.uri)
    assert label == "Acme Jira:bob"
    assert (query["digits"], query["period"], query["algorithm"], query["issuer"]) == ("8", "60", "SHA256",
                                                                                        "Acme Jira")
    assert query["secret"] == enrolment.secret
    assert (enrolment.digits, enrolment.period, enrolment.algorithm, enrolment.issuer) == (8, 60, "SHA256",
                                                                                          "Acme Jira")


def test_a_code_pyotp_computes_from_the_uri_confirms_the_enrolment_and_logs_in(verifier, clock):
    set_acme(verifier)
    app = enrol_from_uri(verifier, clock, "bob")
    assert (app.digits, app.interval, app.digest().name) == (8, 60, "sha256")
    clock.advance(60)
    code = app.at(clock())
    assert len(code) == 8
    assert verifier.verify_totp("bob", code, IP, UA).ok
    assert verifier.store.get_totp("bob")["digits"] == 8


def test_with_a_window_of_two_a_code_two_periods_old_is_accepted_and_three_periods_old_refused(verifier, clock):
    set_acme(verifier)
    app = enrol_from_uri(verifier, clock, "bob")
    clock.advance(10 * 60)  # well past the enrolment's step, so no code below is a replay
    three_old, two_old = app.at(clock() - 180), app.at(clock() - 120)
    assert three_old not in {app.at(clock() + d * 60) for d in range(-2, 3)}
    refused = verifier.verify_totp("bob", three_old, IP, UA)
    assert (refused.ok, refused.reason) == (False, "invalid")
    assert verifier.verify_totp("bob", two_old, IP, UA).ok


def test_a_user_enrolled_before_the_change_keeps_six_digits_and_thirty_seconds_and_still_verifies(verifier, clock):
    secret = enrol_totp(verifier, clock, "alice")
    set_acme(verifier)
    factor = verifier.store.get_totp("alice")
    assert (factor["digits"], factor["period"], factor["algorithm"]) == (6, 30, "SHA1")
    clock.advance(30)
    code = totp.totp(secret, clock())
    assert len(code) == 6
    assert verifier.verify_totp("alice", code, IP, UA).ok


def test_the_policys_window_applies_to_factors_enrolled_before_it_changed(verifier, clock):
    secret = enrol_totp(verifier, clock, "alice")
    clock.advance(300)
    two_old = totp.totp(secret, clock() - 60)
    verifier.update_policy(totp_window=2)
    assert verifier.verify_totp("alice", two_old, IP, UA).ok
    verifier.update_policy(totp_window=0)
    clock.advance(300)
    one_old = totp.totp(secret, clock() - 30)
    if one_old != totp.totp(secret, clock()):
        assert verifier.verify_totp("alice", one_old, IP, UA).reason == "invalid"


def test_a_window_change_reaches_a_verifier_on_another_connection_at_once(verifier, store_url, server_key, clock):
    """Another worker or node: its own store and Verifier on the same database, nothing shared in memory."""
    secret = enrol_totp(verifier, clock, "alice")
    other_store = open_store(store_url)
    try:
        other = Verifier(other_store, fast_settings(server_key), clock=clock)
        clock.advance(300)
        assert other.verify_totp("alice", totp.totp(secret, clock()), IP, UA).ok  # its policy read is warm
        verifier.update_policy(totp_window=0)
        clock.advance(300)
        one_old = totp.totp(secret, clock() - 30)
        if one_old != totp.totp(secret, clock()):
            assert other.verify_totp("alice", one_old, IP, UA).reason == "invalid"
        verifier.update_policy(totp_window=1)
        assert other.verify_totp("alice", one_old, IP, UA).ok
    finally:
        other_store.close()


def test_an_enrolment_begun_before_a_change_is_confirmed_with_the_parameters_it_was_shown(verifier, clock):
    verifier.create_user("carol")
    shown = pyotp.parse_uri(verifier.totp_enroll_begin("carol").uri)
    set_acme(verifier)
    assert verifier.totp_enroll_confirm("carol", shown.at(clock()), IP, UA).ok
    factor = verifier.store.get_totp("carol")
    assert (factor["digits"], factor["period"], factor["algorithm"]) == (6, 30, "SHA1")


def test_after_a_change_enrolment_begins_again_with_a_new_secret_and_the_new_parameters(verifier):
    verifier.create_user("carol")
    before = verifier.totp_enroll_begin("carol")
    set_acme(verifier)
    after = verifier.totp_enroll_begin("carol")
    assert after.secret != before.secret and (after.digits, after.period) == (8, 60)
    assert verifier.totp_enroll_begin("carol").secret == after.secret  # and is shown again while unchanged


def test_an_issuer_change_alone_keeps_the_pending_secret(verifier):
    verifier.create_user("carol")
    before = verifier.totp_enroll_begin("carol")
    verifier.update_policy(issuer="Acme Jira")
    after = verifier.totp_enroll_begin("carol")
    assert after.secret == before.secret and uri_params(after.uri)[1]["issuer"] == "Acme Jira"


def test_without_an_issuer_the_uri_names_the_relying_party(verifier):
    verifier.create_user("dave")
    _, query = uri_params(verifier.totp_enroll_begin("dave").uri)
    assert query["issuer"] == verifier.settings.rp_name == "Test"


def test_an_imported_window_narrows_the_policys_window_for_that_factor(verifier, clock):
    from verifier.seeds import import_seeds

    secret = totp.new_secret()
    csv_text = f"username,secret,window\nerin,{base64.b32encode(secret).decode()},0\n"
    assert import_seeds(verifier.store, csv_text.encode(), name="seeds.csv",
                        server_key=verifier.settings.server_key, now=clock()).imported == 1
    verifier.update_policy(totp_window=2)
    one_old = totp.totp(secret, clock() - 30)
    if one_old != totp.totp(secret, clock()):
        assert verifier.verify_totp("erin", one_old, IP, UA).reason == "invalid"
    assert verifier.verify_totp("erin", totp.totp(secret, clock()), IP, UA).ok


def test_an_imported_window_never_widens_the_policys_window(verifier, clock):
    from verifier.seeds import import_seeds

    secret = totp.new_secret()
    csv_text = f"username,secret,window\nfrank,{base64.b32encode(secret).decode()},5\n"
    import_seeds(verifier.store, csv_text.encode(), name="seeds.csv", server_key=verifier.settings.server_key,
                 now=clock())
    two_old = totp.totp(secret, clock() - 60)  # the policy's window is 1
    if two_old not in {totp.totp(secret, clock() + d * 30) for d in (-1, 0, 1)}:
        assert verifier.verify_totp("frank", two_old, IP, UA).reason == "invalid"


@pytest.mark.parametrize(("field", "value", "range_text"), [
    ("totp_digits", 5, "from 6 to 8"),
    ("totp_digits", 9, "from 6 to 8"),
    ("totp_period", 14, "from 15 to 300 seconds"),
    ("totp_period", 301, "from 15 to 300 seconds"),
    ("totp_algorithm", "MD5", "one of SHA1, SHA256, SHA512"),
    ("totp_window", -1, "from 0 to 10 steps"),
    ("totp_window", 11, "from 0 to 10 steps"),
    ("issuer", "Acme:Jira", "without ':'"),
    ("issuer", "A" * 101, "at most 100"),
])
def test_an_out_of_range_setting_is_refused_with_its_range_and_nothing_is_stored(verifier, field, value, range_text):
    before = verifier.get_policy()
    with pytest.raises(InvalidPolicy, match=f"{field} .*{range_text}"):
        # A valid change alongside is not stored either.
        verifier.update_policy(**{"remember_days": 7, field: value})
    assert verifier.get_policy() == before
    assert verifier.audit(event="policy_changed") == []


def test_each_change_is_audited_with_the_old_and_new_values(verifier):
    set_acme(verifier)
    (event,) = verifier.audit(event="policy_changed")
    assert event.actor == "pytest"
    for part in ("totp_digits: 6 → 8", "totp_period: 30 → 60", "totp_algorithm: 'SHA1' → 'SHA256'",
                 "totp_window: 1 → 2", "issuer: '' → 'Acme Jira'"):
        assert part in event.detail
    assert "mode" not in event.detail  # only what changed


def test_setting_who_is_asked_keeps_the_totp_settings(verifier):
    set_acme(verifier)
    policy = verifier.set_policy("none", [], [], 0, actor="pytest")
    assert (policy.mode, policy.totp_digits, policy.totp_window, policy.issuer) == ("none", 8, 2, "Acme Jira")


def test_each_totp_setting_changes_alone_and_keeps_the_others(verifier):
    set_acme(verifier)
    policy = verifier.update_policy(totp_period=30)
    assert {k: policy[k] for k in ACME} == {**ACME, "totp_period": 30}


def test_a_policy_write_from_a_stale_read_is_refused_and_writes_nothing(store):
    from verifier.store.base import POLICY_SETTING

    event = {"ts": 1.0, "event": "policy_changed", "result": "ok"}
    assert store.replace_setting(POLICY_SETTING, None, '{"mode": "all"}', event) is not None
    assert store.replace_setting(POLICY_SETTING, None, '{"mode": "none"}', event) is None
    assert store.replace_setting(POLICY_SETTING, '{"mode": "groups"}', '{"mode": "none"}', event) is None
    assert store.get_setting(POLICY_SETTING) == '{"mode": "all"}'
    assert len(store.query_audit(event="policy_changed")) == 1


def test_configured_defaults_outside_the_policys_ranges_are_refused_at_start(store, server_key):
    from verifier.core.totp import TotpParams
    from verifier.errors import VerifierConfigError

    with pytest.raises(VerifierConfigError, match="totp_period"):
        Verifier(store, fast_settings(server_key, totp=TotpParams(period=10)))
