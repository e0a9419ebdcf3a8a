"""The sender as real processes (``tracker2fa verifier mailer``, ``verifier serve --smtp-host``) against a real relay
(aiosmtpd, STARTTLS and AUTH): a relay down then up, a sender killed with ``kill -9`` before the relay accepted a
mail and after it did, two nodes on one PostgreSQL database, and the mail of an event made over the HTTP API.

Mails are counted by Message-ID, which a mail keeps on every try."""

from __future__ import annotations

import base64
import collections
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.smtp_relay import RELAY_PASSWORD, RELAY_USER, TestRelay
from verifier.service import Verifier
from verifier.store import open_store

from .cluster import REPO, free_port, start_node, stop_node
from .conftest import fast_settings
from .mail_support import turn_mail_on

LEASE = 10.0  # seconds: short, so that a killed sender's mail is claimed again soon (at least ten SMTP timeouts)


@pytest.fixture
def key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def verifier(store, key):
    """Real time (the mailer processes use it too), mail on."""
    v = Verifier(store, fast_settings(key))
    turn_mail_on(v)
    return v


@pytest.fixture
def relay(tmp_path):
    with TestRelay(tmp_path, mode="starttls") as relay:
        yield relay


def mailer_args(relay: TestRelay, db_url: str, port: int | None = None) -> list[str]:
    return ["--db", db_url, "--smtp-host", "localhost", "--smtp-port", str(port or relay.port), "--smtp-user",
            RELAY_USER, "--smtp-cafile", str(relay.cert), "--mail-from", "noreply@example.com",
            "--mail-from-name", "Acme Jira", "--mail-poll", "0.2", "--mail-retry", "0.5", "1",
            "--mail-lease", str(LEASE), "--smtp-timeout", str(LEASE / 10)]


def env_with(key: bytes) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "TRACKER2FA_VERIFIER_KEY": base64.b64encode(key).decode(),
            "TRACKER2FA_SMTP_PASSWORD": RELAY_PASSWORD}


@contextmanager
def mailer(args: list[str], key: bytes, workdir: Path, name: str = "mailer") -> Iterator[subprocess.Popen]:
    """A ``verifier mailer`` process (its log in ``workdir/NAME.log``), killed at the end if still alive."""
    log = workdir / f"{name}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "native_host", "verifier", "mailer", *args], env=env_with(key),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    proc.log = log  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_until(condition, timeout: float = 60.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


def queue_resets(verifier: Verifier, count: int, prefix: str = "user") -> None:
    for i in range(count):
        verifier.create_user(f"{prefix}{i:03d}", email=f"{prefix}{i:03d}@example.com")
        verifier.reset_user(f"{prefix}{i:03d}")


def copies(relay: TestRelay) -> collections.Counter:
    with relay.lock:
        return collections.Counter(r.message["Message-ID"] for r in relay.received)


def all_sent(verifier: Verifier, count: int) -> bool:
    return verifier.outbox_counts()["sent"] == count


def test_mail_queued_while_the_relay_is_down_arrives_exactly_once_when_it_is_back(verifier, key, store_url, tmp_path):
    port = free_port()
    cert_dir = tmp_path / "relay"
    cert_dir.mkdir()
    relay = TestRelay(cert_dir, mode="starttls", port=port)  # made (its certificate too), not started: down
    queue_resets(verifier, 5)
    with mailer(mailer_args(relay, store_url, port), key, tmp_path) as proc:
        wait_until(lambda: all(m.attempts >= 2 and "cannot reach the relay" in (m.last_error or "")
                               for m in verifier.outbox()), what="two failed tries of every mail")
        relay.start()
        try:
            wait_until(lambda: all_sent(verifier, 5), what="every mail sent")
            time.sleep(1.5)  # several more passes of the sender: nothing more may arrive
            assert proc.poll() is None
            counts = copies(relay)
        finally:
            relay.stop()
    assert len(counts) == 5 and set(counts.values()) == {1}
    assert sorted(r.rcpt_tos[0] for r in relay.received) == [f"user{i:03d}@example.com" for i in range(5)]


def test_a_mail_committed_while_no_sender_runs_is_sent_once_by_the_next(verifier, key, store_url, tmp_path, relay):
    with mailer(mailer_args(relay, store_url), key, tmp_path, "first") as first:
        wait_until(lambda: "is the deployment's sender" in first.log.read_text(), what="the first sender's start")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    queue_resets(verifier, 3)  # committed while the sender is dead
    with mailer(mailer_args(relay, store_url), key, tmp_path, "second"):
        wait_until(lambda: all_sent(verifier, 3), what="every mail sent")
        time.sleep(1.0)
    assert set(copies(relay).values()) == {1} and len(copies(relay)) == 3


def test_a_sender_killed_before_the_relay_accepted_a_mail_leaves_it_to_be_sent_once(verifier, key, store_url,
                                                                                    tmp_path, relay):
    queue_resets(verifier, 3)
    sending, killed = threading.Event(), threading.Event()

    def kill_before_accepting(envelope) -> None:
        if not killed.is_set():
            sending.set()
            killed.wait(30)
            relay.refuse_with = "451 4.3.0 the session ended before the mail was accepted"

    relay.before_accept = kill_before_accepting
    with mailer(mailer_args(relay, store_url), key, tmp_path, "first") as first:
        assert sending.wait(60), first.log.read_text()
        os.killpg(first.pid, signal.SIGKILL)  # kill -9 while its first mail is with the relay, not yet accepted
        first.wait()
        killed.set()
    wait_until(lambda: relay.refuse_with is not None, what="the relay's refusal")
    relay.refuse_with, relay.before_accept = None, None
    assert relay.received == []
    with mailer(mailer_args(relay, store_url), key, tmp_path, "second"):
        wait_until(lambda: all_sent(verifier, 3), what="every mail sent by the second sender")
        time.sleep(1.0)
    assert len(copies(relay)) == 3 and set(copies(relay).values()) == {1}


def test_a_sender_killed_after_the_relay_accepted_but_before_recording_it_sends_that_mail_once_more(
        verifier, key, store_url, tmp_path, relay):
    """The one duplicate the design allows, and its Message-ID that lets mail clients show it once."""
    queue_resets(verifier, 3)
    procs: list[subprocess.Popen] = []

    def kill_then_accept(envelope) -> None:
        if len(relay.received) == 1 and procs and procs[0].poll() is None:  # at the second mail
            os.killpg(procs[0].pid, signal.SIGKILL)  # the sender dies; the relay still accepts what it received
            procs[0].wait()

    relay.before_accept = kill_then_accept
    with mailer(mailer_args(relay, store_url), key, tmp_path, "first") as first:
        procs.append(first)
        wait_until(lambda: first.poll() is not None, what="the first sender's death")
    relay.before_accept = None
    # the first mail was recorded before the second was sent; the second was accepted, never recorded
    assert len(relay.received) == 2 and verifier.outbox_counts()["sent"] == 1
    with mailer(mailer_args(relay, store_url), key, tmp_path, "second"):
        wait_until(lambda: all_sent(verifier, 3), what="every mail sent by the second sender")
        time.sleep(1.0)
    counts = copies(relay)
    assert sorted(counts.values()) == [1, 1, 2]  # the mail in flight went twice, the others once
    twice = next(mid for mid, n in counts.items() if n == 2)
    first_copy, second_copy = (r for r in relay.received if r.message["Message-ID"] == twice)
    assert first_copy.text() == second_copy.text() and first_copy.rcpt_tos == second_copy.rcpt_tos


@pytest.mark.postgres
def test_two_nodes_on_postgresql_never_send_a_mail_twice_and_the_standby_takes_over(pg_database, key, tmp_path,
                                                                                   relay):
    from .conftest import new_pg_schema_url

    url, _schema = new_pg_schema_url(pg_database)
    store = open_store(url)
    try:
        verifier = Verifier(store, fast_settings(key))
        turn_mail_on(verifier)
        queue_resets(verifier, 40)
        sending, killed = threading.Event(), threading.Event()

        def hold_the_first(envelope) -> None:
            if not killed.is_set():
                sending.set()
                killed.wait(30)
                relay.refuse_with = "451 4.3.0 the session ended before the mail was accepted"

        relay.before_accept = hold_the_first
        with mailer(mailer_args(relay, url), key, tmp_path, "node-a") as node_a:
            wait_until(lambda: "is the deployment's sender" in node_a.log.read_text(), what="node A's start")
            with mailer(mailer_args(relay, url), key, tmp_path, "node-b") as node_b:
                assert sending.wait(60)
                os.killpg(node_a.pid, signal.SIGKILL)  # the active node dies mid-send
                node_a.wait()
                killed.set()
                wait_until(lambda: relay.refuse_with is not None, what="the relay's refusal")
                relay.refuse_with, relay.before_accept = None, None
                wait_until(lambda: all_sent(verifier, 40), what="every mail sent by node B")
                time.sleep(1.0)
                assert "is the deployment's sender" in node_b.log.read_text()
        counts = copies(relay)
        assert len(counts) == 40 and set(counts.values()) == {1}
    finally:
        store.close()


RACE = """
import sys, time
from verifier.mail.sender import Sender
from verifier.settings import MailSettings
from verifier.store import open_store
url, port, cafile, password, go = sys.argv[1:6]
store = open_store(url)
settings = MailSettings(host="localhost", port=int(port), username="relay-user", password=password, cafile=cafile,
                        from_address="noreply@example.com", batch=3, timeout=5.0, lease_seconds=60.0)
sender = Sender(store, settings)  # no sender lock: both nodes claim at once, only the claims keep them apart
while not __import__("os").path.exists(go):
    time.sleep(0.01)
idle = 0
while idle < 20:
    idle = 0 if sender.deliver_due() else idle + 1
    time.sleep(0.01)
store.close()
"""


@pytest.mark.postgres
def test_two_nodes_claiming_at_once_on_postgresql_send_each_mail_once(pg_database, key, tmp_path, relay):
    from .conftest import new_pg_schema_url

    url, _schema = new_pg_schema_url(pg_database)
    store = open_store(url)
    try:
        verifier = Verifier(store, fast_settings(key))
        turn_mail_on(verifier)
        queue_resets(verifier, 120)
        go = tmp_path / "go"
        nodes = [subprocess.Popen([sys.executable, "-c", RACE, url, str(relay.port), str(relay.cert), RELAY_PASSWORD,
                                   str(go)], env=env_with(key), cwd=REPO) for _ in range(2)]
        time.sleep(1.0)  # both imported and connected
        go.touch()
        for node in nodes:
            assert node.wait(timeout=240) == 0
        counts = copies(relay)
        assert len(counts) == 120 and set(counts.values()) == {1}
        assert verifier.outbox_counts()["sent"] == 120
    finally:
        store.close()


def test_an_event_made_over_the_http_api_is_mailed_by_the_serve_process(verifier, key, store_url, tmp_path, relay):
    admin_token, service_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    node = start_node(store_url, tmp_path, workers=2, key=key, admin_token=admin_token, service_token=service_token,
                      extra_args=tuple(mailer_args(relay, store_url)[2:]),
                      extra_env={"TRACKER2FA_SMTP_PASSWORD": RELAY_PASSWORD})
    try:
        assert "mail sender on (relay localhost:" in node.stderr()
        status, body = node.call("POST", "/v1/admin/users", {"username": "dana", "email": "dana@example.com"},
                                 admin=True)
        assert status == 201 and body["email"] == "dana@example.com"
        status, body = node.call("POST", "/v1/backup-codes/generate", {"username": "dana", "ip": "192.0.2.44",
                                                                       "user_agent": "curl/8"})
        assert status == 200
        [got] = relay.wait_for(1)
        assert got.rcpt_tos == ["dana@example.com"] and "192.0.2.44" in got.text()
        assert not any(code in got.data.decode() for code in body["codes"])
        status, listed = node.call("GET", "/v1/admin/outbox", admin=True)
        assert status == 200 and [m["status"] for m in listed["mails"]] == ["sent"]
    finally:
        assert stop_node(node) == 0
