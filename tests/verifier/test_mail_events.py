"""Each event mails its user exactly once, through the real sender and a real SMTP relay (aiosmtpd, STARTTLS and
AUTH required), on SQLite and on PostgreSQL: the right recipient, subject and content — and no secret, code or
token of the scenario in any mail."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from tests.support.host_key import HostKey
from tests.support.smtp_relay import RELAY_USER, TestRelay
from verifier.core import totp
from verifier.service import Verifier

from .mail_support import ACCOUNT_URL, CONTACT, deliver, relay_settings, turn_mail_on

ORIGIN = "http://localhost:8000"
IP, OTHER_IP, UA = "192.0.2.10", "198.51.100.20", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
ADDRESS = "alice@example.com"


@dataclass
class Scenario:
    """What one event's test knows: the secrets it handled (none may reach a mail)."""

    verifier: Verifier
    clock: object
    secrets: list[str] = field(default_factory=list)
    totp_secret: bytes | None = None

    def keep(self, *values: str) -> None:
        self.secrets.extend(v for v in values if v)

    def enrol(self, username: str = "alice") -> bytes:
        v, clock = self.verifier, self.clock
        enrolment = v.totp_enroll_begin(username)
        secret = base64.b32decode(enrolment.secret + "=" * (-len(enrolment.secret) % 8))
        code = totp.totp(secret, clock() - 30)
        assert v.totp_enroll_confirm(username, code, IP, UA).ok
        self.keep(enrolment.secret, secret.hex(), enrolment.uri, code)
        if username == "alice":
            self.totp_secret = secret
        return secret

    def sign_in(self, ip: str) -> None:
        self.clock.advance(30)
        code = totp.totp(self.totp_secret, self.clock())
        self.keep(code)
        assert self.verifier.verify_totp("alice", code, ip, UA).ok


def _key(s: Scenario) -> None:
    key = HostKey()
    options, state_id = s.verifier.webauthn_register_begin("alice", ORIGIN)
    s.keep(state_id)
    s.verifier.webauthn_register_complete("alice", state_id, key.create(ORIGIN, options), "Blue key", IP, UA)
    s.key = key  # type: ignore[attr-defined]


def setup_key_removed(s: Scenario) -> Callable[[], None]:
    _key(s)
    cred = s.verifier.list_credentials("alice")[0]
    return lambda: s.verifier.remove_credential("alice", cred.id, actor="alice", ip=IP, user_agent=UA)


def setup_backup_codes_low(s: Scenario) -> Callable[[], None]:
    codes = s.verifier.generate_backup_codes("alice", actor="alice", ip=IP, user_agent=UA)
    s.keep(*codes, *(c.replace("-", "") for c in codes))
    for code in codes[:7]:  # 10 → 3 left: not low yet
        assert s.verifier.verify_backup_code("alice", code, IP, UA).ok
    return lambda: s.verifier.verify_backup_code("alice", codes[7], IP, UA)  # 2 left


def setup_account_locked(s: Scenario) -> Callable[[], None]:
    s.enrol()
    wrong = next(c for c in ("000000", "111111", "222222") if c not in
                 {totp.totp(s.totp_secret, s.clock() + d * 30) for d in range(-2, 3)})

    def fail_five_times() -> None:
        for i in range(5):  # each from its own address: only the user's counter reaches its back-off
            s.verifier.verify_totp("alice", wrong, f"203.0.113.{i}", UA)
    return fail_five_times


def setup_devices_revoked(s: Scenario) -> Callable[[], None]:
    s.verifier.update_policy(remember_days=30)
    s.keep(s.verifier.remember_device("alice", IP, UA))
    return lambda: s.verifier.revoke_devices("alice", actor="alice", ip=IP, user_agent=UA)


def setup_new_device(s: Scenario) -> Callable[[], None]:
    s.verifier.update_policy(remember_days=30)
    return lambda: s.keep(s.verifier.remember_device("alice", IP, UA))


def setup_new_network(s: Scenario) -> Callable[[], None]:
    s.enrol()
    s.sign_in(IP)  # the first recorded network: not news
    s.sign_in("192.0.77.1")  # the same /16: not news either
    return lambda: s.sign_in(OTHER_IP)


def setup_policy_enforced(s: Scenario) -> Callable[[], None]:
    s.verifier.set_policy("groups", ["admins"])
    return lambda: s.verifier.set_policy("all")


def setup_enrol_reminder(s: Scenario) -> Callable[[], None]:
    s.enrol("bob")  # has a factor: not reminded
    s.verifier.update_policy(enrol_deadline=s.clock() + 3 * 86400)  # inside the 7 days before it
    return lambda: s.verifier.queue_due_reminders()


def setup_user_reset(s: Scenario) -> Callable[[], None]:
    s.enrol()
    return lambda: s.verifier.reset_user("alice", actor="admin-api")


# kind, how to get there and do it, the subject, words the text must hold
EVENTS = [
    ("key_added", lambda s: (lambda: _key(s)), "A sign-in method was added to your account",
     ["The security key “Blue key” was added", IP, "Firefox/140.0", ACCOUNT_URL]),
    ("key_added", lambda s: s.enrol, "A sign-in method was added to your account",
     ["An authenticator app was added", IP]),
    ("key_removed", setup_key_removed, "A sign-in method was removed from your account",
     ["The security key “Blue key” was removed", IP]),
    ("backup_codes_regenerated", lambda s: (lambda: s.keep(*s.verifier.generate_backup_codes(
        "alice", actor="alice", ip=IP, user_agent=UA))), "New backup codes were created for your account",
     ["A new set of 10 backup codes", IP]),
    ("backup_codes_low", setup_backup_codes_low, "Your backup codes are running out", ["2 unused backup codes", IP]),
    ("account_locked", setup_account_locked, "Sign-ins to your account are paused after failed attempts",
     ["After 5 failed sign-in attempts in a row", "203.0.113.4"]),
    ("devices_revoked", setup_devices_revoked, "Your remembered devices were signed out",
     ["1 remembered device(s) were forgotten", IP]),
    ("user_reset", setup_user_reset, "Your two-step verification was reset",
     ["An administrator removed every second factor", "By: an administrator"]),
    ("new_device", setup_new_device, "A new device was remembered for your account",
     ["remembered for 30 day(s)", IP, "Firefox/140.0"]),
    ("new_network", setup_new_network, "Sign-in to your account from a new network",
     ["with a code from the authenticator app from a network", OTHER_IP]),
    ("policy_enforced", setup_policy_enforced, "Two-step verification is now required for your account",
     ["asked to set up an authenticator app or a security key"]),
    ("enrol_reminder", setup_enrol_reminder, "Reminder: set up two-step verification",
     ["you have not set up a second factor yet"]),
]


@pytest.fixture
def relay(tmp_path):
    with TestRelay(tmp_path, mode="starttls") as relay:
        yield relay


@pytest.mark.parametrize(("kind", "setup", "subject", "words"), EVENTS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(EVENTS)])
def test_each_event_mails_its_user_exactly_once(kind, setup, subject, words, verifier, clock, relay, server_key):
    turn_mail_on(verifier)
    verifier.create_user("alice", "alice-password-9", groups=["dev"], email=ADDRESS)
    # another user with an address, asked by every policy of these scenarios: never mailed here
    verifier.create_user("bob", groups=["admins"], email="bob@example.com")
    s = Scenario(verifier, clock)
    s.keep("alice-password-9", base64.b64encode(server_key).decode(), server_key.hex())
    mail = relay_settings(relay)
    event = setup(s)
    deliver(verifier, mail, clock)
    before = len(relay.received)

    event()
    assert [m.kind for m in verifier.outbox(status="pending")] == [kind]
    assert deliver(verifier, mail, clock) == 1

    [got] = relay.received[before:]
    msg = got.message
    assert got.rcpt_tos == [ADDRESS] and [a.addr_spec for a in msg["To"].addresses] == [ADDRESS]
    assert got.tls and got.login == RELAY_USER  # STARTTLS, then AUTH, before the mail
    assert msg["Subject"] == subject and str(msg["From"]) == "Acme Jira <noreply@example.com>"
    text = got.text()
    for word in [*words, CONTACT, "Hello alice,"]:
        assert word in text
    [sent] = verifier.outbox(status="sent")[:1]
    assert (sent.kind, sent.recipient, sent.attempts) == (kind, ADDRESS, 1)
    for received in relay.received:  # every mail of the scenario, in every form the relay saw it
        forms = (received.data.decode(errors="replace"), received.text(), received.html())
        for secret in s.secrets:
            assert not any(secret in form for form in forms), f"a secret of the scenario is in a mail: {secret!r}"
            assert hashlib.sha256(secret.encode()).hexdigest() not in forms[0]


def test_the_enrolment_reminder_goes_once_per_deadline(verifier, clock):
    turn_mail_on(verifier)
    verifier.create_user("alice", email=ADDRESS)
    verifier.create_user("carol", email="carol@example.com")
    Scenario(verifier, clock, totp_secret=None)
    enrolment = verifier.totp_enroll_begin("carol")
    secret = base64.b32decode(enrolment.secret + "=" * (-len(enrolment.secret) % 8))
    assert verifier.totp_enroll_confirm("carol", totp.totp(secret, clock()), IP, UA).ok
    verifier.update_policy(enrol_deadline=clock() + 10 * 86400)
    assert verifier.queue_due_reminders() == 0  # 10 days ahead: not yet
    clock.advance(4 * 86400)
    assert verifier.queue_due_reminders() == 1  # alice only: carol has a factor
    assert verifier.queue_due_reminders() == 0  # written once, whoever asks again
    verifier.update_policy(enrol_deadline=clock() + 5 * 86400)  # a new deadline: a new reminder
    assert verifier.queue_due_reminders() == 1
    assert [m.username for m in verifier.outbox() if m.kind == "enrol_reminder"] == ["alice", "alice"]
