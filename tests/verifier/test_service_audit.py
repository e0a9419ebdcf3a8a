"""The audit log: recorded, queryable, streamed to subscribers, never holding codes."""

from __future__ import annotations

import pytest

from verifier.core import totp
from verifier.errors import BadRequest

from .conftest import enrol_totp

IP, UA = "198.51.100.7", "Mozilla/5.0 pytest"


def test_successes_and_failures_are_recorded_with_ip_and_user_agent(verifier, clock):
    secret = enrol_totp(verifier, clock)
    wrong = next(c for c in ("000000", "111111", "222222")
                 if c not in {totp.totp(secret, clock() + d * 30) for d in (-1, 0, 1)})
    assert verifier.verify_totp("alice", wrong, IP, UA).reason == "invalid"
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), IP, UA).ok
    events = verifier.audit(username="alice", event="verify")
    assert [e["result"] for e in events] == ["invalid", "ok"]
    assert all((e["ip"], e["user_agent"], e["method"]) == (IP, UA, "totp") for e in events)


def test_codes_never_appear_in_the_audit_log(verifier, clock):
    secret = enrol_totp(verifier, clock)
    code = totp.totp(secret, clock())
    verifier.verify_totp("alice", code, IP, UA)
    backup = verifier.generate_backup_codes("alice")
    verifier.verify_backup_code("alice", backup[0], IP, UA)
    text = repr(verifier.audit(limit=1000))
    assert code not in text and backup[0] not in text and totp.b32(secret) not in text


def test_policy_changes_and_resets_name_the_actor(verifier):
    verifier.create_user("alice")
    verifier.set_policy("none", [], [], 0, actor="root-admin")
    verifier.reset_user("alice", actor="root-admin")
    events = {e["event"]: e for e in verifier.audit()}
    assert events["policy_changed"]["actor"] == "root-admin" and events["user_reset"]["actor"] == "root-admin"


def test_a_users_back_off_is_recorded_as_throttled(verifier, clock):
    enrol_totp(verifier, clock)
    for _ in range(verifier.settings.rate_limit.free_failures):
        verifier.verify_totp("alice", "000000", IP, UA)
    [event] = verifier.audit(event="throttled")
    assert (event["username"], event["result"]) == ("alice", "locked") and event["detail"].startswith("user:alice")


def test_subscribers_receive_each_event_and_can_unsubscribe(verifier):
    seen: list[dict] = []
    unsubscribe = verifier.subscribe_audit(seen.append)
    verifier.create_user("alice")
    unsubscribe()
    verifier.create_user("bob")
    assert [e["username"] for e in seen] == ["alice"] and seen[0]["id"] is not None


def test_a_failing_subscriber_does_not_break_verification(verifier, clock):
    secret = enrol_totp(verifier, clock)
    calls: list[str] = []

    def broken(event):
        calls.append(event["event"])
        raise RuntimeError("listener bug")

    verifier.subscribe_audit(broken)
    assert verifier.verify_totp("alice", totp.totp(secret, clock()), IP, UA).ok
    assert calls == ["verify"]  # the subscriber did run, and raised
    assert [e["result"] for e in verifier.audit(username="alice", event="verify")] == ["ok"]


def test_a_failing_subscriber_does_not_keep_the_event_from_the_subscribers_after_it(verifier):
    calls: list[str] = []

    def broken(event):
        calls.append("broken")
        raise RuntimeError("listener bug")

    def healthy(event):
        calls.append(f"healthy saw {event['username']}")

    verifier.subscribe_audit(broken)
    verifier.subscribe_audit(healthy)
    verifier.create_user("alice")
    verifier.create_user("bob")
    assert calls == ["broken", "healthy saw alice", "broken", "healthy saw bob"]


def test_audit_queries_filter_and_page(verifier):
    for name in ("a1", "a2", "a3"):
        verifier.create_user(name)
    first = verifier.audit(limit=1)
    assert first[0]["username"] == "a3"
    later = verifier.audit(after_id=verifier.audit(username="a1")[0]["id"])
    assert [e["username"] for e in later] == ["a2", "a3"]


@pytest.mark.parametrize("field", ["username", "event"])
def test_an_audit_filter_with_a_nul_character_is_refused(verifier, field):
    with pytest.raises(BadRequest, match="NUL character"):
        verifier.audit(**{field: "al\x00ice"})


def test_a_user_agent_with_a_nul_character_is_recorded_with_a_replacement_character(verifier):
    assert verifier.verify_totp("nobody", "123456", IP, "agent\x00x").reason == "invalid"
    assert verifier.audit(username="nobody", event="verify")[-1].user_agent == "agent\ufffdx"
