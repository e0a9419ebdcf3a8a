"""Helpers of the mail tests: a verifier with mail on, the sender's settings for the test relay, one delivery."""

from __future__ import annotations

import time

from tests.support.smtp_relay import RELAY_PASSWORD, RELAY_USER, TestRelay
from verifier.mail.sender import Sender
from verifier.service import Verifier
from verifier.settings import MailSettings

ACCOUNT_URL = "https://jira.example.com/secure/account"
CONTACT = "the IT desk (it@example.com)"


def turn_mail_on(verifier: Verifier, **changes) -> None:
    verifier.update_notice_settings(enabled=True, account_url=ACCOUNT_URL, contact=CONTACT, **changes)


def relay_settings(relay: TestRelay, **changes) -> MailSettings:
    """The sender's settings for ``relay``: its mode, its certificate as the only trusted CA, its login."""
    base = dict(host="localhost", port=relay.port, security=relay.mode, from_address="noreply@example.com",
                from_name="Acme Jira", cafile=str(relay.cert), timeout=5.0, lease_seconds=60.0, poll_seconds=0.2,
                retry_base=1.0, retry_max=4.0)
    if relay.auth:
        base.update(username=RELAY_USER, password=RELAY_PASSWORD)
    base.update(changes)
    return MailSettings(**base)


def deliver(verifier: Verifier, mail: MailSettings, clock=time.time) -> int:
    """Every due mail through one sender, pass after pass, until a pass handles none; returns how many."""
    sender = Sender(verifier.store, mail, clock=clock)
    total = 0
    while handled := sender.deliver_due():
        total += handled
    return total
