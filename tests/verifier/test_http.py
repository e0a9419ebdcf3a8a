"""The HTTP API through Starlette's TestClient (the real app, the real Verifier and store)."""

from __future__ import annotations

import base64

import pytest

from tests.support.soft_authenticator import SoftAuthenticator, open_device
from verifier.core import totp
from verifier.service import Verifier

from .conftest import fast_settings

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`:DeprecationWarning")
ADMIN = {"authorization": "Bearer admin-secret-token"}
ORIGIN = "http://localhost:8000"


@pytest.fixture
def api(store, server_key, clock):
    from fastapi.testclient import TestClient

    from verifier.http import create_app
    from verifier.settings import ApiSettings

    verifier = Verifier(store, fast_settings(server_key), clock=clock)
    app = create_app(verifier, ApiSettings(admin_token="admin-secret-token"))
    with TestClient(app) as client:
        client.verifier = verifier
        yield client


def make_user(api, name="alice", groups=("dev",)):
    assert api.post("/v1/admin/users", json={"username": name, "groups": list(groups)}, headers=ADMIN).status_code \
        == 201


def enrol(api, clock, name="alice") -> bytes:
    make_user(api, name)
    secret_b32 = api.post("/v1/totp/enrol/begin", json={"username": name}).json()["secret"]
    secret = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    reply = api.post("/v1/totp/enrol/confirm", json={"username": name, "code": totp.totp(secret, clock() - 30),
                                                     "ip": "192.0.2.1"})
    assert reply.json()["ok"] is True
    return secret


def test_replies_carry_security_headers(api):
    reply = api.get("/healthz")
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in reply.headers["content-security-policy"]
    assert reply.headers["cache-control"] == "no-store"


def test_the_openapi_spec_is_served(api):
    spec = api.get("/openapi.json").json()
    assert "/v1/totp/verify" in spec["paths"] and "/v1/admin/policy" in spec["paths"]


def test_admin_endpoints_refuse_a_missing_or_wrong_token(api):
    assert api.get("/v1/admin/users").status_code == 401
    assert api.get("/v1/admin/users", headers={"authorization": "Bearer nope"}).json()["error"]["code"] == \
        "unauthorized"


def test_creating_a_user_twice_is_a_conflict(api):
    make_user(api)
    reply = api.post("/v1/admin/users", json={"username": "alice"}, headers=ADMIN)
    assert reply.status_code == 409 and reply.json()["error"]["code"] == "user_exists"


def test_an_unknown_user_is_404(api):
    assert api.get("/v1/users/ghost/status").status_code == 404


@pytest.mark.parametrize("body", [
    {"username": "alice", "code": "123456", "ip": "not-an-ip"},
    {"username": "alice", "code": "123456"},
    {"username": "alice", "code": "123456", "ip": "192.0.2.1", "extra": 1},
    {"username": "", "code": "123456", "ip": "192.0.2.1"},
    {"username": "a b", "code": "123456", "ip": "192.0.2.1"},
    {"username": "alice", "code": 123456, "ip": "192.0.2.1"},
])
def test_malformed_requests_are_422(api, body):
    assert api.post("/v1/totp/verify", json=body).status_code == 422


def test_a_body_that_is_not_json_is_422(api):
    reply = api.post("/v1/totp/verify", content=b"\xff\xfe", headers={"content-type": "application/json"})
    assert reply.status_code == 422


def test_an_oversized_body_is_413(api):
    assert api.post("/v1/totp/verify", content=b"{" + b" " * 70_000 + b"}",
                    headers={"content-type": "application/json"}).status_code == 413


def test_totp_verification_accepts_once_then_reports_replay(api, clock):
    secret = enrol(api, clock)
    body = {"username": "alice", "code": totp.totp(secret, clock()), "ip": "192.0.2.1", "user_agent": "t"}
    assert api.post("/v1/totp/verify", json=body).json() == {"ok": True, "reason": "ok", "retry_after": None}
    assert api.post("/v1/totp/verify", json=body).json()["reason"] == "replay"


def test_status_reports_enrolled_factors(api, clock):
    enrol(api, clock)
    api.post("/v1/backup-codes/generate", json={"username": "alice"})
    status = api.get("/v1/users/alice/status").json()
    assert status["totp"] is True and status["backup_codes_left"] == 10 and status["required"] is True


def test_backup_codes_work_once_over_http(api):
    make_user(api)
    code = api.post("/v1/backup-codes/generate", json={"username": "alice"}).json()["codes"][0]
    body = {"username": "alice", "code": code, "ip": "192.0.2.1"}
    assert api.post("/v1/backup-codes/verify", json=body).json()["ok"] is True
    assert api.post("/v1/backup-codes/verify", json=body).json()["ok"] is False


def test_an_invalid_policy_is_400_with_its_reason(api):
    reply = api.put("/v1/admin/policy", json={"mode": "all", "ip_allowlist": ["10.0.0.0/99"]}, headers=ADMIN)
    assert reply.status_code == 400 and "network" in reply.json()["error"]["message"]


def test_the_ip_allowlist_is_applied_to_the_second_factor_decision(api):
    make_user(api)
    api.put("/v1/admin/policy", json={"mode": "all", "ip_allowlist": ["10.0.0.0/8"]}, headers=ADMIN)
    assert api.post("/v1/users/alice/second-factor-required", json={"ip": "10.1.1.1"}).json() == {"required": False}
    assert api.post("/v1/users/alice/second-factor-required", json={"ip": "11.1.1.1"}).json() == {"required": True}


def test_admin_exclusion_and_reset(api, clock):
    enrol(api, clock)
    api.post("/v1/admin/users/alice/exclude", json={"until": clock() + 60}, headers=ADMIN)
    assert api.post("/v1/users/alice/second-factor-required", json={"ip": "11.1.1.1"}).json()["required"] is False
    assert api.post("/v1/admin/users/alice/reset", headers=ADMIN).status_code == 204
    assert api.get("/v1/users/alice/status").json()["totp"] is False


def test_an_admin_unlocks_a_locked_user(api, clock):
    enrol(api, clock)
    for _ in range(api.verifier.settings.rate_limit.free_failures):
        api.post("/v1/totp/verify", json={"username": "alice", "code": "000000", "ip": "192.0.2.9"})
    assert api.get("/v1/users/alice/status").json()["locked_until"] is not None
    reply = api.post("/v1/admin/users/alice/unlock", json={"ip": "192.0.2.9"}, headers=ADMIN)
    assert reply.status_code == 200 and reply.json()["locked_until"] is None


def test_group_reset_lists_the_reset_users(api):
    make_user(api, "alice", ["dev"])
    make_user(api, "bob", ["ops"])
    assert api.post("/v1/admin/groups/dev/reset", headers=ADMIN).json() == {"users": ["alice"]}


def test_the_audit_log_is_queryable(api, clock):
    enrol(api, clock)
    events = api.get("/v1/admin/audit", params={"username": "alice"}, headers=ADMIN).json()["events"]
    assert {"user_created", "totp_enrolled"} <= {e["event"] for e in events}


def test_remembered_devices_rotate_over_http(api):
    make_user(api)
    api.put("/v1/admin/policy", json={"mode": "all", "remember_days": 30}, headers=ADMIN)
    token = api.post("/v1/devices/remember", json={"username": "alice", "ip": "192.0.2.1"}).json()["token"]
    rotated = api.post("/v1/devices/check", json={"username": "alice", "token": token}).json()["token"]
    assert rotated and rotated != token
    assert api.post("/v1/devices/check", json={"username": "alice", "token": token}).json() == {"token": None}


def test_webauthn_ceremonies_over_http(api):
    from fido2.client import DefaultClientDataCollector, Fido2Client

    make_user(api)
    device, _ = open_device(SoftAuthenticator())
    client = Fido2Client(device, DefaultClientDataCollector(ORIGIN))
    begin = api.post("/v1/webauthn/register/begin", json={"username": "alice", "origin": ORIGIN}).json()
    credential = dict(client.make_credential(begin["options"]["publicKey"]))
    reply = api.post("/v1/webauthn/register/complete", json={"username": "alice", "state_id": begin["state_id"],
                                                             "credential": credential, "name": "Desk key"})
    assert reply.status_code == 200 and reply.json()["name"] == "Desk key"
    begin = api.post("/v1/webauthn/authenticate/begin", json={"username": "alice", "origin": ORIGIN}).json()
    assertion = dict(client.get_assertion(begin["options"]["publicKey"]).get_response(0))
    reply = api.post("/v1/webauthn/authenticate/complete", json={
        "username": "alice", "state_id": begin["state_id"], "credential": assertion, "ip": "192.0.2.1"})
    assert reply.json()["ok"] is True
    cred_id = api.get("/v1/users/alice/credentials").json()[0]["id"]
    assert api.delete(f"/v1/users/alice/credentials/{cred_id}").status_code == 204
    assert api.get("/v1/users/alice/credentials").json() == []


def test_a_malformed_registration_is_400(api):
    make_user(api)
    begin = api.post("/v1/webauthn/register/begin", json={"username": "alice", "origin": ORIGIN}).json()
    reply = api.post("/v1/webauthn/register/complete", json={"username": "alice", "state_id": begin["state_id"],
                                                             "credential": {"id": "x"}})
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "webauthn_rejected"


def test_the_audit_websocket_streams_new_events(api):
    with api.websocket_connect("/ws/audit", headers=ADMIN) as ws:
        make_user(api, "carol")
        event = ws.receive_json()
    assert event["event"] == "user_created" and event["username"] == "carol"


def test_the_audit_websocket_ignores_client_messages(api):
    with api.websocket_connect("/ws/audit", headers=ADMIN) as ws:
        ws.send_bytes(b"\x00\x01")
        ws.send_text("hello")
        make_user(api, "dave")
        assert ws.receive_json()["username"] == "dave"


def test_the_audit_websocket_refuses_a_missing_token(api):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as info, api.websocket_connect("/ws/audit") as ws:
        ws.receive_json()
    assert info.value.code == 1008


def test_a_service_token_guards_the_tracker_endpoints_when_configured(store, server_key, clock):
    from fastapi.testclient import TestClient

    from verifier.http import create_app
    from verifier.settings import ApiSettings

    app = create_app(Verifier(store, fast_settings(server_key), clock=clock), ApiSettings(service_token="svc"))
    with TestClient(app) as client:
        assert client.get("/v1/users/ghost/status").status_code == 401
        assert client.get("/v1/users/ghost/status", headers={"authorization": "Bearer svc"}).status_code == 404
