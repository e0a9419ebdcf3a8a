"""The outbox as the events write it (SQLite and PostgreSQL): in the event's own transaction, only what the admin
lets through, never for a user that does not exist, and not a single statement more on a plain sign-in."""

from __future__ import annotations

import base64

import pytest

from verifier.core import totp
from verifier.errors import BadRequest
from verifier.store import base as store_base

from .mail_support import turn_mail_on

IP, UA = "192.0.2.10", "pytest"


def enrol(verifier, clock, username="alice") -> bytes:
    enrolment = verifier.totp_enroll_begin(username)
    secret = base64.b32decode(enrolment.secret + "=" * (-len(enrolment.secret) % 8))
    assert verifier.totp_enroll_confirm(username, totp.totp(secret, clock() - 30), IP, UA).ok
    return secret


def sign_in(verifier, clock, secret, ip=IP, username="alice"):
    clock.advance(30)
    assert verifier.verify_totp(username, totp.totp(secret, clock()), ip, UA).ok


def kinds(verifier) -> list[str]:
    return [m.kind for m in reversed(verifier.outbox())]


def test_nothing_is_written_while_mail_is_off(verifier, clock):
    verifier.create_user("alice", email="alice@example.com")
    secret = enrol(verifier, clock)
    verifier.generate_backup_codes("alice")
    sign_in(verifier, clock, secret, "198.51.100.1")
    verifier.reset_user("alice")
    assert verifier.outbox() == [] and verifier.outbox_counts()["pending"] == 0


def test_a_notice_the_admin_switched_off_is_not_written(verifier, clock):
    turn_mail_on(verifier, off=["backup_codes_regenerated"])
    verifier.create_user("alice", email="alice@example.com")
    verifier.generate_backup_codes("alice")
    verifier.reset_user("alice")
    assert kinds(verifier) == ["user_reset"]


def test_a_mail_commits_with_its_event_or_not_at_all(verifier, clock, monkeypatch):
    turn_mail_on(verifier)
    verifier.create_user("alice", email="alice@example.com")
    verifier.update_policy(remember_days=7)
    verifier.remember_device("alice", IP, UA)
    before = kinds(verifier)

    def broken(tx, event):  # the audit row, written after the mail in the same transaction, fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(store_base.Store, "_insert_audit", staticmethod(broken))
    with pytest.raises(RuntimeError):
        verifier.revoke_devices("alice")
    monkeypatch.undo()
    assert kinds(verifier) == before  # no mail without its event
    assert verifier.user_status("alice").remembered_devices == 1  # and no event without its mail


def test_an_event_whose_mail_cannot_be_written_does_not_happen(verifier, clock, monkeypatch):
    turn_mail_on(verifier)
    verifier.create_user("alice", email="alice@example.com")
    verifier.generate_backup_codes("alice")
    left = verifier.user_status("alice").backup_codes_left

    def broken(tx, mails):
        if mails:
            raise RuntimeError("outbox unwritable")

    monkeypatch.setattr(store_base.Store, "_insert_mails", staticmethod(broken))
    with pytest.raises(RuntimeError):
        verifier.reset_user("alice")
    monkeypatch.undo()
    assert verifier.user_status("alice").backup_codes_left == left


def statements_of(call, monkeypatch) -> list[str]:
    """The SQL statements one call runs (through the store's transactions, both dialects)."""
    seen: list[str] = []
    for name in ("run", "change"):
        original = getattr(store_base.Tx, name)

        def traced(self, sql, params=(), _original=original):
            seen.append(" ".join(sql.split()))
            return _original(self, sql, params)

        monkeypatch.setattr(store_base.Tx, name, traced)
    call()
    monkeypatch.undo()
    return seen


def test_a_plain_sign_in_runs_the_same_statements_with_mail_on_as_with_mail_off(verifier, clock, monkeypatch):
    verifier.create_user("alice", email="alice@example.com")
    secret = enrol(verifier, clock)
    clock.advance(30)
    off = statements_of(lambda: verifier.verify_totp("alice", totp.totp(secret, clock()), IP, UA), monkeypatch)
    turn_mail_on(verifier)
    sign_in(verifier, clock, secret)  # the first sign-in with mail on records this network
    clock.advance(30)
    on = statements_of(lambda: verifier.verify_totp("alice", totp.totp(secret, clock()), IP, UA), monkeypatch)
    assert on == off
    # PostgreSQL: one read, one write; SQLite: two reads, the ledger's update and the audit row
    assert len(on) == (2 if verifier.store.url.startswith("postgresql") else 4)
    assert kinds(verifier) == []


def test_a_sign_in_from_a_new_network_is_mailed_once_and_the_first_network_never(verifier, clock):
    turn_mail_on(verifier)
    verifier.create_user("alice", email="alice@example.com")
    secret = enrol(verifier, clock)
    sign_in(verifier, clock, secret, "192.0.2.10")  # first recorded: silent
    sign_in(verifier, clock, secret, "192.0.99.1")  # same /16
    assert kinds(verifier) == ["key_added"]
    sign_in(verifier, clock, secret, "2001:db8:1::5")
    sign_in(verifier, clock, secret, "2001:db8:1:ffff::9")  # same /48
    sign_in(verifier, clock, secret, "::ffff:192.0.2.200")  # the first network, as a dual-stack socket shows it
    assert kinds(verifier) == ["key_added", "new_network"]
    [mail] = [m for m in verifier.outbox() if m.kind == "new_network"]
    assert mail.params["ip"] == "2001:db8:1::5" and mail.params["method"] == "totp"


def test_backup_codes_and_security_keys_sign_ins_count_as_sign_ins_from_a_network(verifier, clock):
    turn_mail_on(verifier)
    verifier.create_user("alice", email="alice@example.com")
    codes = verifier.generate_backup_codes("alice")
    assert verifier.verify_backup_code("alice", codes[0], "192.0.2.1", UA).ok
    assert verifier.verify_backup_code("alice", codes[1], "203.0.113.9", UA).ok
    [mail] = [m for m in verifier.outbox() if m.kind == "new_network"]
    assert (mail.params["ip"], mail.params["method"]) == ("203.0.113.9", "backup")


def test_failures_on_a_name_that_does_not_exist_mail_nobody(verifier, clock):
    turn_mail_on(verifier)
    for i in range(6):
        verifier.verify_totp("ghost", "000000", f"203.0.113.{i}", UA)
    assert verifier.audit(event="throttled") and verifier.outbox() == []


def test_a_lock_is_mailed_at_the_first_back_off_of_a_streak_not_at_each_one(verifier, clock):
    turn_mail_on(verifier)
    verifier.create_user("alice", email="alice@example.com")
    for i in range(12):
        result = verifier.verify_totp("alice", "000000", f"203.0.113.{i}", UA)
        if result.retry_after:
            clock.advance(result.retry_after + 1)
    assert len(verifier.audit(event="throttled")) == 8 and kinds(verifier) == ["account_locked"]
    [mail] = verifier.outbox()
    assert (mail.params["failures"], mail.params["locked_for"], mail.params["attack"]) == (5, 30, False)


def test_only_a_revocation_that_forgot_devices_is_mailed(verifier, clock):
    turn_mail_on(verifier)
    verifier.create_user("alice", email="alice@example.com")
    assert verifier.revoke_devices("alice") == 0
    assert kinds(verifier) == [] and verifier.audit(event="devices_revoked")[-1]["detail"] == "0 devices"


def test_enforcement_mails_every_newly_asked_user_in_the_policys_transaction(verifier, clock):
    turn_mail_on(verifier)
    verifier.set_policy("groups", ["ops"])
    for i in range(30):
        verifier.create_user(f"dev{i:02d}", groups=["dev"], email=f"dev{i:02d}@example.com")
    verifier.create_user("op", groups=["ops"], email="op@example.com")
    verifier.exclude_user("dev00", clock() + 86400)
    verifier.set_policy("all")
    mails = [m for m in verifier.outbox(limit=100) if m.kind == "policy_enforced"]
    assert sorted(m.username for m in mails) == [f"dev{i:02d}" for i in range(1, 30)]
    assert "enforcement notice to 29 user(s)" in verifier.audit(event="policy_changed")[-1]["detail"]
    verifier.set_policy("all", remember_days=3)  # who is asked did not change: nobody is mailed again
    assert len([m for m in verifier.outbox(limit=100) if m.kind == "policy_enforced"]) == 29


def test_a_user_may_switch_off_informational_notices_but_never_security_ones(verifier):
    verifier.create_user("alice", email="alice@example.com")
    prefs = verifier.set_mail_prefs("alice", "de", ["backup_codes_low", "policy_enforced"])
    assert (prefs.language, prefs.off) == ("de", ["backup_codes_low", "policy_enforced"])
    with pytest.raises(BadRequest, match="security notice"):
        verifier.set_mail_prefs("alice", off=["new_network"])
    assert verifier.mail_prefs("alice").off == ["backup_codes_low", "policy_enforced"]


def test_an_address_that_is_not_one_plain_address_is_refused_and_nothing_changes(verifier):
    verifier.create_user("alice", email="alice@example.com")
    for bad in ("alice@example.com\r\nBcc: evil@example.net", "Alice <alice@example.com>", "alice@localhost"):
        with pytest.raises(BadRequest, match="mail address"):
            verifier.set_email("alice", bad)
        with pytest.raises(BadRequest, match="mail address"):
            verifier.create_user("mallory", email=bad)
    assert verifier.mail_prefs("alice").email == "alice@example.com" and "mallory" not in verifier.list_users()
    assert verifier.set_email("alice", None).email is None


def test_a_user_a_new_group_brings_under_the_policy_is_told_like_a_policy_change_tells(verifier):
    turn_mail_on(verifier)
    verifier.set_policy("groups", ["finance"])
    verifier.create_user("alice", groups=["dev"], email="alice@example.com")
    verifier.add_to_group("alice", "ops")  # still not asked
    assert kinds(verifier) == []
    verifier.add_to_group("alice", "finance")
    verifier.add_to_group("alice", "hr")  # asked already: not again
    assert kinds(verifier) == ["policy_enforced"] and verifier.outbox()[0].params["enrolled"] is False
