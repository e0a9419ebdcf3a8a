"""The HTTP API through Starlette's TestClient (the real app, the real Verifier and store), and the edge
(tokens, hosts, hostile JSON, errors) against a real `tracker2fa verifier serve` process."""

from __future__ import annotations

import base64
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.host_key import HostKey
from verifier.core import totp
from verifier.service import Verifier

from .conftest import fast_settings

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`:DeprecationWarning")
ADMIN = {"authorization": "Bearer admin-secret-token"}
SERVICE_TOKEN = "service-secret-token"
ORIGIN = "http://localhost:8000"


@pytest.fixture
def api(store, server_key, clock):
    from fastapi.testclient import TestClient

    from verifier.http import create_app
    from verifier.settings import ApiSettings

    verifier = Verifier(store, fast_settings(server_key), clock=clock)
    app = create_app(verifier, ApiSettings(admin_token="admin-secret-token", service_token=SERVICE_TOKEN))
    # The tracker's token on every request; admin calls replace it with the admin token.
    with TestClient(app, base_url="http://localhost", headers={"authorization": f"Bearer {SERVICE_TOKEN}"}) as client:
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


ADMIN_TOKEN = "admin-secret-token"
# (the token, a request only that token opens): the tracker's service token, and the admin's.
ROLES = {"service": (SERVICE_TOKEN, ("GET", "/v1/users/alice/credentials")),
         "admin": (ADMIN_TOKEN, ("GET", "/v1/admin/users"))}


def near_misses(token: str) -> dict[str, str]:
    """Tokens a check that is not an exact comparison would let through."""
    last = "x" if token[-1] != "x" else "y"
    return {"a prefix": token[:-1], "its first character": token[:1], "one character longer": token + "x",
            "the token twice": token * 2, "right prefix, last character changed": token[:-1] + last,
            "right prefix, first character changed": ("x" if token[0] != "x" else "y") + token[1:]}


@pytest.mark.parametrize("role", ROLES)
def test_a_token_that_only_resembles_the_configured_one_is_refused(api, role):
    token, (method, path) = ROLES[role]
    make_user(api)
    assert api.request(method, path, headers={"authorization": f"Bearer {token}"}).status_code == 200
    for what, presented in near_misses(token).items():
        reply = api.request(method, path, headers={"authorization": f"Bearer {presented}"})
        assert reply.status_code == 401, f"the {role} endpoint accepted {what} of its token: {reply.text}"


@pytest.mark.parametrize("role", ROLES)
def test_tokens_are_compared_in_constant_time_by_hmac_compare_digest(api, role, monkeypatch):
    import hmac

    token, (method, path) = ROLES[role]
    make_user(api)
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    for presented, status in ((token, 200), (token[:-1], 401), ("wrong-token-of-the-right-length"[:len(token)], 401)):
        compared.clear()
        assert api.request(method, path, headers={"authorization": f"Bearer {presented}"}).status_code == status
        assert compared == [(presented.encode(), token.encode())], f"{presented!r}: compared {compared}"


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


ACME_TOTP = {"totp_digits": 8, "totp_period": 60, "totp_algorithm": "SHA256", "totp_window": 2, "issuer": "Acme Jira"}


def test_the_policy_endpoints_carry_the_totp_settings_and_enrolment_begins_with_them(api, clock):
    import pyotp

    reply = api.put("/v1/admin/policy", json={"mode": "all", **ACME_TOTP}, headers=ADMIN)
    assert reply.status_code == 200 and {k: reply.json()[k] for k in ACME_TOTP} == ACME_TOTP
    assert {k: api.get("/v1/admin/policy", headers=ADMIN).json()[k] for k in ACME_TOTP} == ACME_TOTP
    make_user(api, "bob")
    enrolment = api.post("/v1/totp/enrol/begin", json={"username": "bob"}).json()
    assert (enrolment["digits"], enrolment["period"], enrolment["algorithm"], enrolment["issuer"]) == \
        (8, 60, "SHA256", "Acme Jira")
    app = pyotp.parse_uri(enrolment["uri"])
    assert (app.digits, app.interval, app.issuer) == (8, 60, "Acme Jira")
    confirm = {"username": "bob", "code": app.at(clock()), "ip": "192.0.2.1"}
    assert api.post("/v1/totp/enrol/confirm", json=confirm).json()["ok"] is True
    clock.advance(60)
    verify = {"username": "bob", "code": app.at(clock()), "ip": "192.0.2.1"}
    assert api.post("/v1/totp/verify", json=verify).json()["ok"] is True


def test_a_put_without_totp_settings_keeps_them(api):
    api.put("/v1/admin/policy", json={"mode": "all", **ACME_TOTP}, headers=ADMIN)
    reply = api.put("/v1/admin/policy", json={"mode": "none"}, headers=ADMIN)
    assert reply.json()["mode"] == "none" and {k: reply.json()[k] for k in ACME_TOTP} == ACME_TOTP


@pytest.mark.parametrize(("field", "value", "range_text"), [
    ("totp_digits", 5, "from 6 to 8"), ("totp_period", 600, "from 15 to 300 seconds"),
    ("totp_algorithm", "MD5", "one of SHA1, SHA256, SHA512"), ("totp_window", 11, "from 0 to 10 steps"),
    ("issuer", "a\tb", "printable characters"),
])
def test_an_out_of_range_totp_setting_is_400_with_its_range_and_changes_nothing(api, field, value, range_text):
    before = api.get("/v1/admin/policy", headers=ADMIN).json()
    reply = api.put("/v1/admin/policy", json={"mode": "none", field: value}, headers=ADMIN)
    assert reply.status_code == 400 and reply.json()["error"]["code"] == "invalid_policy"
    assert range_text in reply.json()["error"]["message"]
    assert api.get("/v1/admin/policy", headers=ADMIN).json() == before


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
    make_user(api)
    key = HostKey()  # the host's own ceremonies with its software key
    begin = api.post("/v1/webauthn/register/begin", json={"username": "alice", "origin": ORIGIN}).json()
    credential = key.create(ORIGIN, begin["options"])
    reply = api.post("/v1/webauthn/register/complete", json={"username": "alice", "state_id": begin["state_id"],
                                                             "credential": credential, "name": "Desk key"})
    assert reply.status_code == 200 and reply.json()["name"] == "Desk key"
    begin = api.post("/v1/webauthn/authenticate/begin", json={"username": "alice", "origin": ORIGIN}).json()
    assertion = key.get(ORIGIN, begin["options"])
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
    with api.websocket_connect("ws://localhost/ws/audit", headers=ADMIN) as ws:
        make_user(api, "carol")
        event = ws.receive_json()
    assert event["event"] == "user_created" and event["username"] == "carol"


def test_the_audit_websocket_ignores_client_messages(api):
    with api.websocket_connect("ws://localhost/ws/audit", headers=ADMIN) as ws:
        ws.send_bytes(b"\x00\x01")
        ws.send_text("hello")
        make_user(api, "dave")
        assert ws.receive_json()["username"] == "dave"


def test_the_audit_websocket_refuses_a_missing_token(api):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as info, api.websocket_connect("ws://localhost/ws/audit") as ws:
        ws.receive_json()
    assert info.value.code == 1008


def test_without_a_configured_service_token_the_tracker_endpoints_are_closed(store, server_key, clock):
    from fastapi.testclient import TestClient

    from verifier.http import create_app
    from verifier.settings import ApiSettings

    app = create_app(Verifier(store, fast_settings(server_key), clock=clock), ApiSettings())
    with TestClient(app, base_url="http://localhost") as client:
        reply = client.post("/v1/backup-codes/generate", json={"username": "alice"},
                            headers={"authorization": "Bearer anything"})
    assert reply.status_code == 401 and "service token" in reply.json()["error"]["message"]


# ---- the NaN/Infinity detector (a JSON parser of its own) ------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


@given(json_values)
def test_finite_json_is_never_taken_for_non_finite(value):
    from verifier.http.security import has_non_finite_number

    assert not has_non_finite_number(json.dumps(value).encode())


@given(json_values, st.sampled_from([math.nan, math.inf, -math.inf]))
def test_a_non_finite_number_anywhere_is_found(value, constant):
    from verifier.http.security import has_non_finite_number

    assert has_non_finite_number(json.dumps({"v": value, "x": [value, constant]}).encode())


@given(st.binary(max_size=200))
def test_the_detector_never_raises_on_arbitrary_bytes(raw):
    from verifier.http.security import has_non_finite_number

    assert has_non_finite_number(raw) in (True, False)


# ---- the edge, against a real `tracker2fa verifier serve` process ------------------------------------------

SERVED_SERVICE_TOKEN = "tracker-service-token-for-tests"
SERVED_ADMIN_TOKEN = "admin-token-for-the-served-tests"
TRACKER_CALLS = [
    ("POST", "/v1/totp/verify", {"username": "alice", "code": "123456", "ip": "192.0.2.1"}),
    ("POST", "/v1/totp/enrol/begin", {"username": "alice"}),
    ("POST", "/v1/totp/enrol/confirm", {"username": "alice", "code": "123456", "ip": "192.0.2.1"}),
    ("POST", "/v1/backup-codes/generate", {"username": "alice"}),
    ("POST", "/v1/backup-codes/verify", {"username": "alice", "code": "abcd-efgh-jkmn", "ip": "192.0.2.1"}),
    ("POST", "/v1/devices/remember", {"username": "alice", "ip": "192.0.2.1"}),
    ("POST", "/v1/devices/check", {"username": "alice", "token": "x" * 20}),
    ("POST", "/v1/webauthn/register/begin", {"username": "alice", "origin": "http://localhost"}),
    ("POST", "/v1/webauthn/authenticate/begin", {"username": "alice", "origin": "http://localhost"}),
    ("GET", "/v1/users/alice/status", None),
    ("GET", "/v1/users/alice/credentials", None),
    ("DELETE", "/v1/users/alice/devices", None),
]


class Served:
    """A `tracker2fa verifier serve` process on a fresh SQLite database; its stderr goes to a file."""

    def __init__(self, tmp_path, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> None:
        import os
        import subprocess
        import sys

        from tests.mock.support import free_port

        self.port = free_port()
        self.db = tmp_path / "served" / "verifier.db"
        self.log = tmp_path / "serve.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER2FA_")}
        full_env.update({"PYTHONPATH": os.getcwd(), **(env or {})})
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "native_host", "verifier", "serve", "--db", f"sqlite:///{self.db}",
                 "--port", str(self.port), *args], stdin=subprocess.PIPE, stdout=log, stderr=log, env=full_env)
        self.proc.stdin.write(stdin.encode())
        self.proc.stdin.close()
        self.url = f"http://localhost:{self.port}"
        self._wait()

    def _wait(self) -> None:
        import time

        import httpx

        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.url}/healthz", timeout=2)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"verifier serve did not start: {self.stderr()}") from None
                time.sleep(0.1)

    def call(self, method: str, path: str, body=None, token: str | None = SERVED_SERVICE_TOKEN, **kw):
        import httpx

        headers = {"authorization": f"Bearer {token}"} if token else {}
        headers.update(kw.pop("headers", {}))
        return httpx.request(method, f"{self.url}{path}", json=body, headers=headers, timeout=10, **kw)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def serve_with_alice(tmp_path) -> Served:
    """A served verifier with both tokens from the environment and one user, alice."""
    server = Served(tmp_path, env={"TRACKER2FA_SERVICE_TOKEN": SERVED_SERVICE_TOKEN,
                                   "TRACKER2FA_ADMIN_TOKEN": SERVED_ADMIN_TOKEN})
    reply = server.call("POST", "/v1/admin/users", {"username": "alice"}, token=SERVED_ADMIN_TOKEN)
    assert reply.status_code == 201
    return server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One served verifier for the tests that leave it as they found it."""
    server = serve_with_alice(tmp_path_factory.mktemp("served"))
    yield server
    server.stop()


SECURITY_HEADER_NAMES = ("x-content-type-options", "x-frame-options", "content-security-policy", "cache-control",
                         "referrer-policy")


def assert_security_headers(reply) -> None:
    missing = [name for name in SECURITY_HEADER_NAMES if name not in reply.headers]
    assert not missing, f"{reply.status_code} reply without {missing}"


@pytest.mark.parametrize(("method", "path", "body"), TRACKER_CALLS, ids=[f"{m} {p}" for m, p, _ in TRACKER_CALLS])
def test_every_tracker_endpoint_refuses_a_request_without_the_service_token(served, method, path, body):
    for token in (None, "wrong-token-of-the-right-length", SERVED_ADMIN_TOKEN):
        reply = served.call(method, path, body, token=token)
        assert reply.status_code == 401, (token, reply.text)
        assert reply.json()["error"]["code"] == "unauthorized"
    assert served.call(method, path, body).status_code != 401


def test_the_admin_token_does_not_open_tracker_endpoints_and_the_service_token_not_admin_ones(served):
    assert served.call("GET", "/v1/admin/users", token=SERVED_SERVICE_TOKEN).status_code == 401
    assert served.call("GET", "/v1/admin/users", token=SERVED_ADMIN_TOKEN).json() == {"users": ["alice"]}


def test_serve_without_a_service_token_generates_one_0600_beside_the_database_and_says_where(tmp_path):
    import stat

    server = Served(tmp_path)
    try:
        token_file = server.db.with_name("verifier.db.service-token")
        token = token_file.read_text().strip()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert str(token_file) in server.stderr()
        assert server.call("GET", "/v1/users/ghost/credentials", token=None).status_code == 401
        assert server.call("GET", "/v1/users/ghost/credentials", token=token).status_code not in (400, 401)
    finally:
        server.stop()
    assert token not in server.stderr()
    restarted = Served(tmp_path)  # the next start keeps the same token
    try:
        assert restarted.call("GET", "/v1/users/ghost/credentials", token=token).status_code not in (400, 401)
    finally:
        restarted.stop()


def test_serve_reads_the_service_token_from_stdin_after_the_admin_token(tmp_path):
    server = Served(tmp_path, "--admin-token-stdin", "--service-token-stdin",
                    stdin=f"{SERVED_ADMIN_TOKEN}\n{SERVED_SERVICE_TOKEN}\n")
    try:
        assert server.call("GET", "/v1/users/ghost/credentials").status_code not in (400, 401)
        assert server.call("GET", "/v1/admin/users", token=SERVED_ADMIN_TOKEN).status_code == 200
        assert not server.db.with_name("verifier.db.service-token").exists()
    finally:
        server.stop()
    assert SERVED_SERVICE_TOKEN not in server.stderr() and SERVED_ADMIN_TOKEN not in server.stderr()


def test_a_foreign_host_header_is_refused_with_the_security_headers(served):
    reply = served.call("GET", "/v1/users/alice/status", headers={"host": f"rebound.example:{served.port}"})
    assert reply.status_code == 400 and "Invalid host header" in reply.text
    assert_security_headers(reply)
    assert served.call("GET", "/healthz", headers={"host": "rebound.example"}).status_code == 400
    assert served.call("GET", "/v1/users/alice/status", headers={"host": f"127.0.0.1:{served.port}"}).status_code \
        == 200


def test_an_allowed_host_option_adds_a_name(tmp_path):
    server = Served(tmp_path, "--allowed-host", "verifier.internal.example",
                    env={"TRACKER2FA_SERVICE_TOKEN": SERVED_SERVICE_TOKEN})
    try:
        assert server.call("GET", "/v1/users/ghost/credentials",
                           headers={"host": "verifier.internal.example"}).status_code not in (400, 401)
        assert server.call("GET", "/v1/users/ghost/credentials",
                           headers={"host": "other.internal.example"}).status_code == 400
    finally:
        server.stop()


def test_listening_beyond_loopback_warns_about_plain_http(tmp_path):
    server = Served(tmp_path, "--host", "0.0.0.0", env={"TRACKER2FA_SERVICE_TOKEN": SERVED_SERVICE_TOKEN})
    server.stop()
    assert "warning: listening on 0.0.0.0 over plain HTTP" in server.stderr()
    loopback = Served(tmp_path, env={"TRACKER2FA_SERVICE_TOKEN": SERVED_SERVICE_TOKEN})
    loopback.stop()
    assert "warning" not in loopback.stderr()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_a_json_body_are_422_with_the_security_headers(served, constant):
    for path, raw, token in [
        ("/v1/totp/verify", f'{{"username": "alice", "code": {constant}, "ip": "192.0.2.1"}}', SERVED_SERVICE_TOKEN),
        ("/v1/admin/users/alice/exclude", f'{{"until": {constant}}}', SERVED_ADMIN_TOKEN),
    ]:
        reply = served.call("POST", path, content=raw.encode(), token=token,
                            headers={"content-type": "application/json"})
        assert reply.status_code == 422, reply.text
        assert "NaN and Infinity are not JSON" in reply.json()["detail"][0]["msg"]
        assert_security_headers(reply)
    assert served.call("GET", "/v1/users/alice/status").json()["excluded_until"] is None
    assert "Traceback" not in served.stderr()


def test_a_string_that_says_nan_is_still_an_ordinary_value(served):
    reply = served.call("POST", "/v1/totp/verify", {"username": "alice", "code": "NaN", "ip": "192.0.2.1"})
    assert reply.status_code == 200 and reply.json()["ok"] is False  # a wrong code, not a refused body


def test_a_server_error_is_a_json_500_with_the_security_headers_and_no_traceback(tmp_path):
    import sqlite3

    served = serve_with_alice(tmp_path)
    try:
        with sqlite3.connect(served.db) as conn:  # a fault the server cannot expect: its users table is gone
            conn.execute("ALTER TABLE users RENAME TO users_gone")
        reply = served.call("GET", "/v1/users/alice/status")
    finally:
        served.stop()
    assert reply.status_code == 500
    assert reply.json()["error"]["code"] == "internal_error"
    assert_security_headers(reply)
    assert "Traceback" not in reply.text and "Traceback" not in served.stderr()
    assert "internal error OperationalError" in served.stderr()
