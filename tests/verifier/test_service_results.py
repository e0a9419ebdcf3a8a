"""The facade's typed results: attributes for new code, to_dict() for JSON, field names for dict-era callers."""

from __future__ import annotations

import json

import pytest

from verifier.service import UserStatus, VerifyResult


def test_a_verify_result_keeps_its_json_shape():
    assert VerifyResult(False, "locked", 30.0).to_dict() == {"ok": False, "reason": "locked", "retry_after": 30.0}


def test_user_status_is_typed_and_json_ready(verifier):
    status = verifier.create_user("alice", groups=["dev"])
    assert isinstance(status, UserStatus) and status.groups == ["dev"] and status.totp is False
    assert json.loads(json.dumps(status.to_dict()))["username"] == "alice"


def test_a_result_field_reads_the_same_by_name_as_by_attribute(verifier):
    status = verifier.create_user("alice")
    assert status["backup_codes_left"] == status.backup_codes_left and "totp" in status
    assert status.get("no_such_field", "default") == "default"


def test_a_result_has_no_fields_beyond_its_own(verifier):
    status = verifier.create_user("alice")
    with pytest.raises(KeyError):
        status["password_hash"]


def test_audit_events_are_typed_records(verifier):
    verifier.create_user("alice")
    [event] = verifier.audit(username="alice")
    assert event.event == "user_created" and event["username"] == "alice" and event.to_dict()["id"] == event.id
