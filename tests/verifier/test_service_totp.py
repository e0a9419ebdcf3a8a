"""TOTP through the Verifier and a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64

import pytest

from verifier.core import totp
from verifier.errors import UserNotFound

from .conftest import enrol_totp

IP, UA = "198.51.100.7", "pytest"


def test_enrolment_is_confirmed_by_a_first_valid_code(verifier, clock):
    verifier.create_user("alice")
    enrolment = verifier.totp_enroll_begin("alice")
    secret = base64.b32decode(enrolment["secret"] + "=" * (-len(enrolment["secret"]) % 8))
    assert verifier.totp_enroll_confirm("alice", totp.totp(secret, clock()), IP, UA).ok
    assert verifier.user_status("alice")["totp"] is True


def test_enrolment_begin_returns_the_same_pending_secret_until_confirmed(verifier):
    verifier.create_user("alice")
    assert verifier.totp_enroll_begin("alice")["secret"] == verifier.totp_enroll_begin("alice")["secret"]


def test_enrolment_offers_an_otpauth_uri_and_a_qr_code(verifier):
    verifier.create_user("alice")
    enrolment = verifier.totp_enroll_begin("alice")
    assert enrolment["uri"].startswith("otpauth://totp/") and enrolment["secret"] in enrolment["uri"]
    assert "<svg" in enrolment["qr_svg"]


def _a_wrong_code(secret: bytes, now: float) -> str:
    """A well-formed code that no step in (or near) the window produces."""
    near = {totp.totp(secret, now + d * 30) for d in range(-3, 4)}
    return next(c for c in (f"{n:06d}" for n in range(0, 10**6, 7919)) if c not in near)


def test_a_wrong_first_code_does_not_enrol(verifier, clock, store):
    verifier.create_user("alice")
    enrolment = verifier.totp_enroll_begin("alice")
    secret = base64.b32decode(enrolment["secret"] + "=" * (-len(enrolment["secret"]) % 8))
    result = verifier.totp_enroll_confirm("alice", _a_wrong_code(secret, clock()), IP, UA)
    assert (result.ok, result.reason) == (False, "invalid")
    assert store.get_totp("alice") is None  # no confirmed factor was written
    assert store.get_totp_pending("alice") is not None  # the enrolment still waits for a right code


def test_a_stale_enrolment_expires(verifier, clock):
    verifier.create_user("alice")
    enrolment = verifier.totp_enroll_begin("alice")
    clock.advance(verifier.settings.enrol_ttl + 1)
    secret = base64.b32decode(enrolment["secret"] + "=" * (-len(enrolment["secret"]) % 8))
    assert verifier.totp_enroll_confirm("alice", totp.totp(secret, clock()), IP, UA).reason == "expired"


def test_a_valid_code_is_accepted(verifier, clock):
    secret = enrol_totp(verifier, clock)
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), IP, UA).ok


def test_the_same_code_is_refused_the_second_time(verifier, clock):
    secret = enrol_totp(verifier, clock)
    code = totp.totp(secret, clock())
    assert verifier.verify_totp("alice", code, IP, UA).ok
    assert verifier.verify_totp("alice", code, IP, UA).reason == "replay"


def test_an_older_code_is_refused_once_a_newer_one_was_accepted(verifier, clock):
    secret = enrol_totp(verifier, clock)
    older = totp.totp(secret, clock() - 30)
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), IP, UA).ok
    if older != totp.totp(secret, clock()):
        assert verifier.verify_totp("alice", older, IP, UA).reason == "replay"


def test_the_enrolment_code_cannot_be_replayed_at_login(verifier, clock):
    verifier.create_user("alice")
    enrolment = verifier.totp_enroll_begin("alice")
    secret = base64.b32decode(enrolment["secret"] + "=" * (-len(enrolment["secret"]) % 8))
    code = totp.totp(secret, clock())
    assert verifier.totp_enroll_confirm("alice", code, IP, UA).ok
    assert verifier.verify_totp("alice", code, IP, UA).reason == "replay"


def test_a_code_from_the_next_step_is_accepted_and_drift_recorded(verifier, clock):
    secret = enrol_totp(verifier, clock)
    assert verifier.verify_totp("alice", totp.totp(secret, clock() + 30), IP, UA).ok
    assert verifier.store.get_totp("alice")["drift"] == 1


def test_a_code_two_steps_old_is_refused(verifier, clock):
    secret = enrol_totp(verifier, clock)
    clock.advance(90)
    old = totp.totp(secret, clock() - 60)
    if old not in {totp.totp(secret, clock() + d * 30) for d in (-1, 0, 1)}:
        assert verifier.verify_totp("alice", old, IP, UA).reason == "invalid"


def test_a_user_without_totp_gets_the_answer_of_a_wrong_code(verifier):
    verifier.create_user("bob")
    result = verifier.verify_totp("bob", "123456", IP, UA)
    assert (result.ok, result.reason, result.retry_after) == (False, "invalid", None)
    assert verifier.audit(username="bob", event="verify")[-1]["result"] == "not_enrolled"  # the admin sees why


def test_an_unknown_user_gets_the_answer_of_a_wrong_code(verifier):
    result = verifier.verify_totp("nobody", "123456", IP, UA)
    assert (result.ok, result.reason, result.retry_after) == (False, "invalid", None)
    event = verifier.audit(username="nobody", event="verify")[-1]
    assert (event["result"], event["detail"]) == ("not_enrolled", "unknown user")


def test_an_unknown_user_is_throttled_like_a_known_one(verifier, clock):
    enrol_totp(verifier, clock, "alice")
    rules = verifier.settings.rate_limit
    answers = {}
    for name in ("alice", "nobody"):
        answers[name] = [verifier.verify_totp(name, "000000", f"203.0.113.{i}", UA).to_dict()
                         for i in range(rules.free_failures + 1)]
    assert answers["alice"] == answers["nobody"]
    assert answers["nobody"][-1]["reason"] == "locked"


def test_failures_lock_the_account_with_back_off(verifier, clock):
    secret = enrol_totp(verifier, clock)
    rules = verifier.settings.rate_limit
    wrong = str((int(totp.totp(secret, clock())) + 1) % 10**6).zfill(6)
    results = [verifier.verify_totp("alice", wrong, IP, UA) for _ in range(rules.free_failures)]
    assert results[-1].reason == "invalid" and results[-1].retry_after == rules.base_delay
    locked = verifier.verify_totp("alice", totp.totp(secret, clock()), IP, UA)
    assert locked.reason == "locked" and locked.retry_after == pytest.approx(rules.base_delay)
    assert verifier.user_status("alice")["locked_until"] == pytest.approx(clock() + rules.base_delay)


def test_the_lock_lifts_after_the_back_off_and_success_clears_the_counter(verifier, clock):
    secret = enrol_totp(verifier, clock)
    rules = verifier.settings.rate_limit
    for _ in range(rules.free_failures):
        verifier.verify_totp("alice", "000000", "203.0.113.9", UA)
    clock.advance(rules.base_delay + 1)
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), IP, UA).ok
    assert verifier.store.get_failures("user:alice") == (0, None)


def test_an_admin_unlock_lifts_a_users_back_off(verifier, clock):
    secret = enrol_totp(verifier, clock)
    for _ in range(verifier.settings.rate_limit.free_failures):
        verifier.verify_totp("alice", "000000", "203.0.113.10", UA)
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), IP, UA).reason == "locked"
    verifier.unlock("alice", actor="pytest")
    assert verifier.user_status("alice")["locked_until"] is None
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), IP, UA).ok


def test_failures_from_one_ip_lock_that_ip_for_every_user(verifier, clock):
    enrol_totp(verifier, clock, "alice")
    secret_b = enrol_totp(verifier, clock, "bob")
    ip_rules = verifier.settings.ip_rate_limit
    per_user = verifier.settings.rate_limit.free_failures - 1  # stay below each user's own lock
    names = [f"probe{i}" for i in range(ip_rules.free_failures)]  # mostly unknown users: probing counts too
    for i in range(ip_rules.free_failures):
        verifier.verify_totp("alice" if i < per_user else names[i], "000000", "203.0.113.50", UA)
    assert verifier.verify_totp("bob", totp.totp(secret_b, clock()), "203.0.113.50", UA).reason == "locked"
    assert verifier.verify_totp("bob", totp.totp(secret_b, clock()), IP, UA).ok


def test_removing_totp_leaves_the_user_not_enrolled(verifier, clock):
    secret = enrol_totp(verifier, clock)
    verifier.totp_remove("alice", actor="alice")
    assert verifier.store.get_totp("alice") is None
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), IP, UA).reason == "invalid"


def test_secrets_are_encrypted_at_rest(verifier, clock, store):
    secret = enrol_totp(verifier, clock)
    stored = store.get_totp("alice")["secret_enc"]
    assert totp.b32(secret) not in stored and secret.hex() not in stored
    assert base64.b64encode(secret).decode() not in stored


def test_a_secret_copied_to_another_user_does_not_decrypt(verifier, clock, store):
    enrol_totp(verifier, clock, "alice")
    enrol_totp(verifier, clock, "bob")
    stolen = store.get_totp("alice")["secret_enc"]
    with store.tx() as tx:
        tx.run("UPDATE totp SET secret_enc = ? WHERE username = ?", (stolen, "bob"))
    from cryptography.exceptions import InvalidTag

    with pytest.raises(InvalidTag):
        verifier.verify_totp("bob", "123456", IP, UA)


def test_enrolment_for_an_unknown_user_is_refused(verifier):
    with pytest.raises(UserNotFound):
        verifier.totp_enroll_begin("nobody")
