"""Security keys through the real host process (framing over pipes) with the developer's virtual key."""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from fido2.ctap1 import RegistrationData, SignatureData
from fido2.server import Fido2Server
from fido2.utils import websafe_decode, websafe_encode

from tests.host.conftest import CHROMIUM_ARGV, frame, host_executable

ORIGIN = "http://localhost:8000"  # the mock tracker's kind of origin: http is allowed on localhost only
PIN = "4711-pin"
JIRA = "https://jira.example.com"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def key_env(host_env, tmp_path) -> dict[str, str]:
    return dict(host_env, TRACKER2FA_VIRTUAL_KEY=str(tmp_path / "vkey.json"))


@pytest.fixture
def fido_host(spawn_host, key_env):
    return spawn_host(env=key_env)


@pytest.fixture
def pin_key_env(key_env) -> dict[str, str]:
    """A virtual key with a PIN set: a ceremony that wants user verification waits for ``fido.pin``."""
    from native_host.fido.softkey.store import KeyStore

    store = KeyStore()
    store.pin_hash = hashlib.sha256(PIN.encode()).digest()[:16]
    store.save(Path(key_env["TRACKER2FA_VIRTUAL_KEY"]))
    return key_env


def _server() -> Fido2Server:
    return Fido2Server({"id": "localhost", "name": "Mock tracker"})


def _json(options) -> dict:
    return json.loads(json.dumps(dict(options.public_key)))


def _error(reply: dict) -> dict:
    assert "error" in reply, reply
    return reply["error"]


def test_devices_lists_the_virtual_key(fido_host):
    listing = fido_host.result("fido.devices")
    assert [k["transport"] for k in listing["keys"]] == ["virtual"] and listing["keys"][0]["virtual"] is True


def test_create_then_get_are_verified_by_python_fido2s_server_for_the_same_origin(fido_host):
    server = _server()
    options, state = server.register_begin({"id": b"alice", "name": "alice"})
    registration = fido_host.result("fido.create", {"origin": ORIGIN, "options": _json(options)})
    credential = server.register_complete(state, registration).credential_data
    options, state = server.authenticate_begin([credential])
    assertion = fido_host.result("fido.get", {"origin": ORIGIN, "options": _json(options)})
    server.authenticate_complete(state, [credential], assertion)
    assert json.loads(websafe_decode(assertion["response"]["clientDataJSON"]))["origin"] == ORIGIN


def test_another_sites_rp_id_is_a_security_error(fido_host):
    options, _ = Fido2Server({"id": "evil.test", "name": "Evil"}).register_begin({"id": b"a", "name": "a"})
    error = _error(fido_host.call("fido.create", {"origin": ORIGIN, "options": _json(options)}))
    assert (error["code"], error["dom_name"]) == ("fido_security_error", "SecurityError")


@pytest.mark.parametrize("origin", ["null", "ftp://localhost", "chrome-extension://abc/"])
def test_an_opaque_or_non_web_origin_is_a_security_error_before_any_key_is_touched(fido_host, origin):
    options, _ = _server().register_begin({"id": b"a", "name": "a"})
    error = _error(fido_host.call("fido.create", {"origin": origin, "options": _json(options)}))
    assert (error["code"], error["dom_name"]) == ("fido_security_error", "SecurityError")
    assert fido_host.result("fido.devices")["keys"][0]["virtual"]  # the host carries on


def test_a_u2f_error_carries_its_u2f_error_code(fido_host):
    unknown = [{"version": "U2F_V2", "keyHandle": websafe_encode(b"k" * 64)}]
    error = _error(fido_host.call("u2f.sign", {"origin": ORIGIN, "challenge": "c2lnbg", "registeredKeys": unknown}))
    assert (error["code"], error["dom_name"], error["u2f_error_code"]) == ("fido_no_credential", "NotAllowedError", 4)


def test_u2f_register_then_sign(fido_host):
    app_id = f"{ORIGIN}/app-id.json"
    registration = fido_host.result("u2f.register", {
        "origin": ORIGIN, "appId": app_id, "registerRequests": [{"version": "U2F_V2", "challenge": "Y2hhbA"}]})
    registered = RegistrationData(websafe_decode(registration["registrationData"]))
    assert json.loads(websafe_decode(registration["clientData"])) == {
        "typ": "navigator.id.finishEnrollment", "challenge": "Y2hhbA", "origin": ORIGIN}
    handle = websafe_encode(registered.key_handle)
    signed = fido_host.result("u2f.sign", {"origin": ORIGIN, "appId": app_id, "challenge": "c2lnbg",
                                           "registeredKeys": [{"version": "U2F_V2", "keyHandle": handle}]})
    assert signed["keyHandle"] == handle
    client_data = websafe_decode(signed["clientData"])
    # The page's origin as the browser reported it, never the appId (which the key signs as its own parameter).
    assert json.loads(client_data) == {"typ": "navigator.id.getAssertion", "challenge": "c2lnbg", "origin": ORIGIN}
    SignatureData(websafe_decode(signed["signatureData"])).verify(
        hashlib.sha256(app_id.encode()).digest(), hashlib.sha256(client_data).digest(), registered.public_key)


def _uv_required_options() -> dict:
    options, _ = _server().register_begin({"id": b"bob", "name": "bob"}, user_verification="required")
    return _json(options)


def test_a_pin_asked_by_the_key_is_answered_with_fido_pin_and_never_echoed(spawn_host, pin_key_env):
    host = spawn_host(env=pin_key_env)
    rid = host.request("fido.create", {"origin": ORIGIN, "options": _uv_required_options()})
    event = host.recv()
    assert event["event"] == "fido.pin_needed" and event["id"] == rid and event["rpId"] == "localhost"
    assert host.result("fido.pin", {"target": rid, "pin": PIN}) == {"answered": True}
    reply = host.reply_to(rid)
    assert reply["result"]["type"] == "public-key"
    host.wait()
    assert PIN not in host.stderr


def test_cancel_while_a_ceremony_waits_ends_it_cancelled_and_the_host_carries_on(spawn_host, pin_key_env):
    host = spawn_host(env=pin_key_env)
    rid = host.request("fido.create", {"origin": ORIGIN, "options": _uv_required_options()})
    assert host.recv()["event"] == "fido.pin_needed"  # the ceremony is running, waiting
    assert host.result("vault.status")["unlocked"] is False  # served meanwhile: the ceremony has its own thread
    assert host.result("cancel", {"target": rid}) == {"cancelled": True}
    error = _error(host.reply_to(rid))
    assert (error["code"], error["dom_name"]) == ("fido_cancelled", "AbortError")
    assert "error" in host.call("fido.pin", {"target": rid, "pin": PIN})  # nobody waits for it any more


def test_closing_the_port_cancels_a_waiting_ceremony(spawn_host, pin_key_env):
    host = spawn_host(env=pin_key_env)
    rid = host.request("fido.create", {"origin": ORIGIN, "options": _uv_required_options()})
    assert host.recv()["event"] == "fido.pin_needed"
    assert host.wait() == 0
    assert _error(host.reply_to(rid))["code"] == "fido_cancelled"


def test_fido_pin_for_a_request_that_asked_for_none_is_bad_request(fido_host):
    assert fido_host.error_code("fido.pin", {"target": 99, "pin": PIN}) == "bad_request"


def _exchange(proc: subprocess.Popen, message: dict) -> dict:
    proc.stdin.write(frame(message))
    proc.stdin.flush()
    while True:
        (length,) = struct.unpack("=I", proc.stdout.read(4))
        reply = json.loads(proc.stdout.read(length))
        if reply.get("id") == message["id"] and "event" not in reply:
            return reply


@pytest.mark.parametrize("then_fido", [False, True])
def test_the_totp_path_of_a_real_host_never_imports_fido2(key_env, tmp_path, then_fido):
    from native_host.vault import VaultFile
    from native_host.vault.entry import Entry

    vault = VaultFile(Path(key_env["TRACKER2FA_VAULT"])).create("pw", kdf_cost="minimum")
    entry_id = vault.add(Entry(secret=TOTP_SECRET, issuer="Jira", origins=[JIRA])).id
    vault.lock()
    proc = subprocess.Popen([sys.executable, "-X", "importtime", host_executable(), *CHROMIUM_ARGV],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=key_env,
                            cwd=tmp_path)
    assert "result" in _exchange(proc, {"id": 1, "method": "hello"})
    assert "result" in _exchange(proc, {"id": 2, "method": "vault.unlock", "params": {"password": "pw"}})
    code = _exchange(proc, {"id": 3, "method": "vault.code", "params": {"id": entry_id, "origin": JIRA}})
    assert code["result"]["code"].isdigit()
    if then_fido:  # the control: the first security-key request does import it
        assert "result" in _exchange(proc, {"id": 4, "method": "fido.devices"})
    _, stderr = proc.communicate(timeout=60)  # closes stdin: the port closes, the host exits
    imported = {line.split("|")[-1].strip() for line in stderr.decode().splitlines() if line.startswith("import time:")}
    assert ("fido2" in imported) is then_fido


def test_a_fifth_ceremony_at_once_is_refused_busy_until_one_ends(spawn_host, pin_key_env):
    host = spawn_host(env=pin_key_env)
    running = [host.request("fido.create", {"origin": ORIGIN, "options": _uv_required_options()}) for _ in range(4)]
    while (event := host.recv()["event"]) == "fido.key_busy":  # the others queue on the one key
        pass
    assert event == "fido.pin_needed"  # a ceremony is waiting (the others wait for it or for a PIN)
    assert host.error_code("fido.devices") == "busy"
    cancels = [host.request("cancel", {"target": rid}) for rid in running]
    replies: dict = {}
    while len(replies) < len(running) + len(cancels):
        message = host.recv()
        assert message is not None, host.stderr
        if "event" not in message:
            replies[message["id"]] = message
    assert [replies[c]["result"] for c in cancels] == [{"cancelled": True}] * 4
    assert [replies[r]["error"]["code"] for r in running] == ["fido_cancelled"] * 4
    assert host.result("fido.devices")["keys"]  # a slot is free again


@pytest.mark.parametrize("pin", [123, "", "x" * 256, ["4711"]])
def test_a_pin_that_is_not_a_short_string_or_null_is_bad_request(fido_host, pin):
    assert fido_host.error_code("fido.pin", {"target": 1, "pin": pin}) == "bad_request"


def test_many_devices_and_get_requests_at_once_never_hit_an_internal_error(fido_host):
    server = _server()
    options, state = server.register_begin({"id": b"alice", "name": "alice"})
    credential = server.register_complete(state, fido_host.result(
        "fido.create", {"origin": ORIGIN, "options": _json(options)})).credential_data
    for _ in range(50):  # pipelined like the service worker does: listings and ceremonies overlap
        sent = {}
        for _ in range(3):
            options, state = server.authenticate_begin([credential])
            sent[fido_host.request("fido.get", {"origin": ORIGIN, "options": _json(options)})] = state
            sent[fido_host.request("fido.devices")] = None
        for request_id, state in sent.items():
            reply = fido_host.reply_to(request_id)
            assert "result" in reply or reply["error"]["code"] == "busy", (reply, fido_host.stderr)
            if state is not None and "result" in reply:
                server.authenticate_complete(state, [credential], reply["result"])
    assert "internal error" not in fido_host.stderr


def test_devices_says_the_virtual_key_confirms_by_itself_only_when_asked(spawn_host, key_env):
    assert spawn_host(env=key_env).result("fido.devices")["autoConfirm"] is False
    auto = spawn_host(env=dict(key_env, TRACKER2FA_VIRTUAL_KEY_AUTO_CONFIRM="1")).result("fido.devices")
    assert auto["autoConfirm"] is True
    without_key = {k: v for k, v in key_env.items() if k != "TRACKER2FA_VIRTUAL_KEY"}
    alone = spawn_host(env=dict(without_key, TRACKER2FA_VIRTUAL_KEY_AUTO_CONFIRM="1")).result("fido.devices")
    assert alone["autoConfirm"] is False  # the switch means nothing without a virtual key


def test_a_wrong_pin_through_the_host_is_asked_for_again_with_the_tries_left(spawn_host, pin_key_env):
    host = spawn_host(env=pin_key_env)
    rid = host.request("fido.create", {"origin": ORIGIN, "options": _uv_required_options()})
    assert host.recv()["event"] == "fido.pin_needed"
    assert host.result("fido.pin", {"target": rid, "pin": "wrong-pin"}) == {"answered": True}
    again = host.recv()
    assert (again["event"], again["wrongPin"], again["retries"]) == ("fido.pin_needed", True, 7)
    assert host.result("fido.pin", {"target": rid, "pin": PIN}) == {"answered": True}
    assert host.reply_to(rid)["result"]["type"] == "public-key"


@pytest.mark.parametrize("allowed", ["yes", 1, None])
def test_allow_attestation_must_be_the_users_yes_or_no(fido_host, allowed):
    options, _ = _server().register_begin({"id": b"a", "name": "a"})
    params = {"origin": ORIGIN, "options": _json(options), "allowAttestation": allowed}
    assert _error(fido_host.call("fido.create", params))["code"] == "fido_bad_request"
