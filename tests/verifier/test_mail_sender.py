"""The sender against a real relay (aiosmtpd): TLS it will not do without, what the relay refuses for now and for
good, a relay that is down, leases, the choices made after a mail was queued, and several senders on one
database (SQLite and PostgreSQL) sending each mail once."""

from __future__ import annotations

import threading

import pytest

from tests.support.smtp_relay import TestRelay
from verifier.mail.sender import Sender
from verifier.store import open_store

from .mail_support import deliver, relay_settings, turn_mail_on

IP, UA = "192.0.2.10", "pytest"


@pytest.fixture
def relay(tmp_path):
    with TestRelay(tmp_path, mode="starttls") as relay:
        yield relay


def queue_resets(verifier, count: int, *, domain: str = "example.com") -> list[str]:
    """``count`` users with an address, each reset once: one pending mail each."""
    names = []
    for i in range(count):
        name = f"user{i:03d}"
        verifier.create_user(name, email=f"{name}@{domain}")
        verifier.reset_user(name)
        names.append(name)
    return names


def message_ids(relay: TestRelay) -> list[str]:
    return [r.message["Message-ID"] for r in relay.received]


def test_implicit_tls_delivers(verifier, clock, tmp_path):
    turn_mail_on(verifier)
    queue_resets(verifier, 1)
    with TestRelay(tmp_path, mode="tls") as relay:
        assert deliver(verifier, relay_settings(relay), clock) == 1
        [got] = relay.received
        assert got.tls and got.rcpt_tos == ["user000@example.com"]


def test_a_relay_whose_certificate_is_not_trusted_gets_nothing(verifier, clock, relay):
    turn_mail_on(verifier)
    queue_resets(verifier, 1)
    deliver(verifier, relay_settings(relay, cafile=None), clock)  # the system CAs do not know the test's CA
    [mail] = verifier.outbox()
    assert relay.received == [] and mail.status == "pending" and "TLS with the relay failed" in mail.last_error


def test_a_relay_without_starttls_never_gets_a_mail_in_clear(verifier, clock, tmp_path):
    turn_mail_on(verifier)
    queue_resets(verifier, 1)
    with TestRelay(tmp_path, mode="none", auth=False) as plain:
        deliver(verifier, relay_settings(plain, security="starttls"), clock)
        [mail] = verifier.outbox()
        assert plain.received == [] and mail.status == "pending" and "STARTTLS" in mail.last_error


def test_a_wrong_relay_password_leaves_the_mail_waiting(verifier, clock, relay):
    turn_mail_on(verifier)
    queue_resets(verifier, 1)
    deliver(verifier, relay_settings(relay, password="wrong-password"), clock)
    [mail] = verifier.outbox()
    assert relay.received == [] and mail.status == "pending" and "refused the SMTP login" in mail.last_error
    assert relay.logins and not any(ok for _user, ok in relay.logins)  # smtplib tries PLAIN, then LOGIN


def test_a_mail_the_relay_refuses_for_good_is_failed_and_not_tried_again(verifier, clock, relay):
    turn_mail_on(verifier)
    queue_resets(verifier, 1)
    relay.refuse_with = "550 5.1.1 mailbox unavailable"
    deliver(verifier, relay_settings(relay), clock)
    relay.refuse_with = None
    clock.advance(86400)
    deliver(verifier, relay_settings(relay), clock)
    [mail] = verifier.outbox()
    assert mail.status == "failed" and "550" in mail.last_error and relay.received == []


def test_a_mail_the_relay_refuses_for_now_is_tried_again_after_its_back_off(verifier, clock, relay):
    turn_mail_on(verifier)
    queue_resets(verifier, 1)
    mail = relay_settings(relay, retry_base=60.0, retry_max=600.0)
    relay.refuse_with = "451 4.3.0 try later"
    deliver(verifier, mail, clock)
    relay.refuse_with = None
    deliver(verifier, mail, clock)  # the back-off has not passed: nothing is tried
    [waiting] = verifier.outbox()
    assert (waiting.status, waiting.attempts, waiting.next_attempt) == ("pending", 1, pytest.approx(clock() + 60))
    clock.advance(61)
    assert deliver(verifier, mail, clock) == 1
    assert len(relay.received) == 1 and verifier.outbox()[0].status == "sent"


def test_mail_queued_while_the_relay_is_down_arrives_once_when_it_is_back(verifier, clock, tmp_path):
    turn_mail_on(verifier)
    queue_resets(verifier, 3)
    relay = TestRelay(tmp_path, mode="starttls").start()
    settings = relay_settings(relay)
    relay.stop()
    deliver(verifier, settings, clock)
    assert {(m.status, m.attempts) for m in verifier.outbox()} == {("pending", 1)}
    assert "cannot reach the relay" in verifier.outbox()[0].last_error
    relay = TestRelay(tmp_path, mode="starttls", port=settings.port)
    relay.cert, relay.key = settings.cafile, relay.key  # the same certificate the sender trusts
    relay.start()
    try:
        clock.advance(10)
        assert deliver(verifier, settings, clock) == 3
        clock.advance(3600)
        assert deliver(verifier, settings, clock) == 0
        assert sorted(r.rcpt_tos[0] for r in relay.received) == [f"user{i:03d}@example.com" for i in range(3)]
    finally:
        relay.stop()


def test_a_mail_nobody_could_deliver_for_days_is_given_up(verifier, clock, relay):
    turn_mail_on(verifier)
    queue_resets(verifier, 1)
    clock.advance(4 * 86400)
    deliver(verifier, relay_settings(relay), clock)
    [mail] = verifier.outbox()
    assert mail.status == "failed" and "given up" in mail.last_error and relay.received == []


def test_choices_made_after_a_mail_was_queued_still_count(verifier, clock, relay):
    turn_mail_on(verifier)
    verifier.create_user("alice", email="alice@example.com")
    verifier.create_user("bob", email="bob@example.com")
    verifier.create_user("carol")  # no address
    codes = verifier.generate_backup_codes("alice")
    for code in codes[:8]:
        verifier.verify_backup_code("alice", code, IP, UA)  # the 8th leaves 2: backup_codes_low
    verifier.reset_user("bob")
    verifier.reset_user("carol")
    verifier.set_mail_prefs("alice", off=["backup_codes_low"])
    deliver(verifier, relay_settings(relay), clock)
    states = {(m.username, m.kind): (m.status, m.last_error) for m in verifier.outbox()}
    assert states[("alice", "backup_codes_low")] == ("dropped", "backup_codes_low is switched off by the user")
    assert states[("alice", "backup_codes_regenerated")][0] == "sent"
    assert states[("bob", "user_reset")][0] == "sent"
    assert states[("carol", "user_reset")] == ("dropped", "the user has no mail address")


def test_a_mail_goes_in_the_users_language(verifier, clock, relay):
    turn_mail_on(verifier, language="en")
    verifier.create_user("anna", email="anna@example.com")
    verifier.set_mail_prefs("anna", "de")
    verifier.reset_user("anna")
    deliver(verifier, relay_settings(relay), clock)
    [got] = relay.received
    assert got.message["Subject"] == "Ihre Zwei-Faktor-Anmeldung wurde zurückgesetzt"
    assert got.message["Content-Language"] == "de" and "Hallo anna," in got.text()


def test_a_leased_mail_is_nobody_elses_until_its_lease_ends_and_then_goes_once(verifier, clock, relay):
    turn_mail_on(verifier)
    queue_resets(verifier, 1)
    settings = relay_settings(relay)
    [claimed] = verifier.store.claim_mail("a-sender-that-died", clock(), clock() + settings.lease_seconds, 10)
    assert deliver(verifier, settings, clock) == 0 and relay.received == []
    clock.advance(settings.lease_seconds + 1)
    assert deliver(verifier, settings, clock) == 1
    assert message_ids(relay) == [f"<outbox-{claimed['id']}.{int(claimed['created'])}@example.com>"]


def test_a_claim_never_takes_a_mail_another_sender_holds_until_that_lease_ends(verifier, clock):
    # The store itself, below the sender's "anything due?" read: the claim's own conditions must hold the line
    # when two senders pass that read at once.
    turn_mail_on(verifier)
    queue_resets(verifier, 2)
    now = clock()
    [held] = verifier.store.claim_mail("sender-a", now, now + 60, 1)  # PostgreSQL claimed two here once
    others = verifier.store.claim_mail("sender-b", now, now + 30, 10)
    assert len(others) == 1 and others[0]["id"] != held["id"]
    assert verifier.store.claim_mail("sender-c", now + 45, now + 105, 10) == [others[0]]  # b's lease ended
    assert [r["id"] for r in verifier.store.claim_mail("sender-d", now + 61, now + 121, 10)] == [held["id"]]


def test_a_sender_starts_no_send_in_the_second_half_of_its_lease(verifier, clock, relay):
    turn_mail_on(verifier)
    queue_resets(verifier, 3)
    settings = relay_settings(relay, lease_seconds=100.0, timeout=5.0)
    relay.before_accept = lambda envelope: clock.advance(50)  # the first send took half the lease
    sender = Sender(verifier.store, settings, clock=clock)
    sender.deliver_due()
    assert len(relay.received) == 1
    waiting = [m for m in verifier.outbox() if m.status == "pending"]
    assert len(waiting) == 2 and all(m.attempts == 0 for m in waiting)  # given back untried...
    relay.before_accept = None
    assert sender.deliver_due() == 2 and len(relay.received) == 3  # ...and claimable again at once


def test_several_senders_on_one_database_send_each_mail_once(verifier, clock, relay, store_url):
    turn_mail_on(verifier)
    names = queue_resets(verifier, 60)
    settings = relay_settings(relay, batch=5)
    stores = [open_store(store_url) for _ in range(4)]
    start = threading.Barrier(len(stores))

    def send(store) -> None:
        start.wait()
        sender = Sender(store, settings, clock=clock)
        while sender.deliver_due():
            pass

    threads = [threading.Thread(target=send, args=(store,)) for store in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        for store in stores:
            store.close()
    ids = message_ids(relay)
    assert len(ids) == len(set(ids)) == len(names)
    assert {m.status for m in verifier.outbox(limit=100)} == {"sent"}


def test_one_process_holds_the_deployments_sender_lock_at_a_time(store_url):
    first, second = open_store(store_url), open_store(store_url)
    try:
        lock = first.try_mailer_lock()
        assert lock is not None and lock.held()
        assert second.try_mailer_lock() is None
        lock.release()
        again = second.try_mailer_lock()
        assert again is not None
        again.release()
    finally:
        first.close()
        second.close()
