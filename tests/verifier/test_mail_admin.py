"""Users' addresses and the mail settings where admins and trackers set them: the seed import (CSV, JSON lines,
PSKC), the HTTP API (admin and tracker endpoints) and the admin CLI (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import io
import json
import os

import pytest
from pskc import PSKC

from native_host.cli import main
from verifier.seeds import import_seeds
from verifier.service import Verifier

from .conftest import admin, fast_settings

TOTP_URI = "urn:ietf:params:xml:ns:keyprov:pskc:totp"
ADMIN = {"authorization": "Bearer admin-secret-token"}
SERVICE = "service-secret-token"


def b32(secret: bytes) -> str:
    return base64.b32encode(secret).decode().rstrip("=")


@pytest.fixture
def verifier(store, server_key, clock):
    return Verifier(store, fast_settings(server_key), clock=clock)


# ---- the seed import ----------------------------------------------------------------------------------------
def test_an_email_column_gives_imported_users_their_address(verifier):
    data = (f"username,secret,email\nalice,{b32(os.urandom(20))},Alice@Example.COM\n"
            f"bob,{b32(os.urandom(20))},\n").encode()
    report = import_seeds(verifier.store, data, name="seeds.csv", server_key=verifier.settings.server_key)
    assert report.imported == 2
    assert verifier.mail_prefs("alice").email == "Alice@example.com" and verifier.mail_prefs("bob").email is None
    line = json.dumps({"username": "carol", "secret": b32(os.urandom(20)), "email": "carol@example.org"})
    import_seeds(verifier.store, line.encode(), name="seeds.jsonl", server_key=verifier.settings.server_key)
    assert verifier.mail_prefs("carol").email == "carol@example.org"


def test_an_imported_row_with_a_bad_address_is_refused_with_its_line_and_nothing_is_imported(verifier):
    data = (f"username,secret,email\nalice,{b32(os.urandom(20))},alice@example.com\n"
            f'bob,{b32(os.urandom(20))},"bob@example.com\r\nBcc: evil@example.net"\n').encode()
    report = import_seeds(verifier.store, data, name="seeds.csv", server_key=verifier.settings.server_key)
    assert report.imported == 0 and [r.where for r in report.rejected] == ["line 4"]
    assert report.rejected[0].reason.startswith("email: not a mail address") and verifier.list_users() == []


def test_a_pskc_userid_that_is_an_address_is_the_users_address_too(verifier):
    container = PSKC()
    for userid, serial in (("dora@example.com", "TK1"), ("CN=Erik,O=Acme", "TK2")):
        container.add_key(algorithm=TOTP_URI, response_length=6, time_interval=30, algorithm_suite="HMAC-SHA1",
                          key_userid=userid, serial=serial, secret=os.urandom(20))
    out = io.BytesIO()
    container.write(out)
    report = import_seeds(verifier.store, out.getvalue(), name="tokens.pskc", map_serial=True,
                          server_key=verifier.settings.server_key)
    assert report.imported == 2
    assert verifier.mail_prefs("TK1").email == "dora@example.com" and verifier.mail_prefs("TK2").email is None


# ---- the HTTP API -------------------------------------------------------------------------------------------
@pytest.fixture
def api(verifier):
    from fastapi.testclient import TestClient

    from verifier.http import create_app
    from verifier.settings import ApiSettings

    app = create_app(verifier, ApiSettings(admin_token="admin-secret-token", service_token=SERVICE))
    with TestClient(app, base_url="http://localhost", headers={"authorization": f"Bearer {SERVICE}"}) as client:
        yield client


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_admin_api_sets_addresses_and_mail_settings_and_lists_the_outbox(api):
    r = api.post("/v1/admin/users", json={"username": "alice", "email": "alice@example.com"}, headers=ADMIN)
    assert r.status_code == 201 and r.json()["email"] == "alice@example.com"
    r = api.post("/v1/admin/users", json={"username": "eve", "email": "eve@example.com\nBcc: x@y.z"}, headers=ADMIN)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request"
    assert api.get("/v1/admin/users", headers=ADMIN).json()["users"] == ["alice"]
    r = api.put("/v1/admin/notifications", json={"enabled": True, "off": ["new_network"], "language": "de"},
                headers=ADMIN)
    assert r.status_code == 200 and r.json()["off"] == ["new_network"] and r.json()["enabled"] is True
    assert api.put("/v1/admin/notifications", json={"timezone": "Nowhere/Else"}, headers=ADMIN).status_code == 400
    assert api.put("/v1/admin/notifications", json={"off": ["no_such"]}, headers=ADMIN).status_code == 422
    r = api.put("/v1/admin/users/alice/email", json={"email": "alice@example.org"}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["email"] == "alice@example.org"
    assert api.post("/v1/admin/users/alice/reset", headers=ADMIN).status_code == 204
    listed = api.get("/v1/admin/outbox", params={"status": "pending"}, headers=ADMIN).json()
    assert [(m["kind"], m["username"]) for m in listed["mails"]] == [("user_reset", "alice")]
    assert listed["counts"]["pending"] == 1
    assert api.get("/v1/admin/outbox", headers={"authorization": f"Bearer {SERVICE}"}).status_code == 401


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_tracker_sets_a_users_mail_choices_but_never_switches_off_a_security_notice(api):
    api.post("/v1/admin/users", json={"username": "alice", "email": "alice@example.com"}, headers=ADMIN)
    r = api.put("/v1/users/alice/notifications", json={"language": "de", "off": ["backup_codes_low"]})
    assert r.status_code == 200 and (r.json()["language"], r.json()["off"]) == ("de", ["backup_codes_low"])
    assert "new_device" in r.json()["always_sent"] and "enrol_reminder" in r.json()["may_switch_off"]
    r = api.put("/v1/users/alice/notifications", json={"off": ["key_added"]})
    assert r.status_code == 400 and "security notice" in r.json()["error"]["message"]
    assert api.get("/v1/users/alice/notifications").json()["off"] == ["backup_codes_low"]
    assert api.put("/v1/users/alice/notifications", json={"language": ""}).json()["language"] is None
    assert api.get("/v1/users/nobody/notifications").status_code == 404


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_trackers_backup_code_request_puts_the_users_address_into_the_notice(api, verifier):
    verifier.update_notice_settings(enabled=True)
    api.post("/v1/admin/users", json={"username": "alice", "email": "alice@example.com"}, headers=ADMIN)
    r = api.post("/v1/backup-codes/generate", json={"username": "alice", "ip": "192.0.2.7", "user_agent": "Edge"})
    assert r.status_code == 200
    [mail] = verifier.outbox()
    assert mail.params["ip"] == "192.0.2.7" and mail.params["user_agent"] == "Edge"
    assert not any(code in json.dumps(mail.to_dict()) for code in r.json()["codes"])
    assert api.post("/v1/backup-codes/generate", json={"username": "alice", "ip": "not-an-ip"}).status_code == 422


# ---- the admin CLI ----------------------------------------------------------------------------------------
def test_the_admin_cli_sets_addresses_and_mail_settings_and_shows_the_outbox(db, capsys):
    assert admin(db, "create-user", "alice", "--email", "alice@example.com", capsys=capsys)[0] == 0
    code, _, err = admin(db, "create-user", "eve", "--email", "not an address", capsys=capsys)
    assert code == 1 and "not a mail address" in err
    code, out, _ = admin(db, "set-notifications", "--on", "--disable", "new_network", "--disable", "new_device",
                         "--timezone", "Europe/Berlin", "--account-url", "https://jira.example.com/acc", capsys=capsys)
    assert code == 0 and json.loads(out)["off"] == ["new_device", "new_network"]
    code, out, _ = admin(db, "set-notifications", "--enable", "new_device", capsys=capsys)
    assert json.loads(out)["off"] == ["new_network"] and json.loads(out)["timezone"] == "Europe/Berlin"
    code, _, err = admin(db, "set-notifications", "--disable", "spam", capsys=capsys)
    assert code == 1 and "unknown notice(s) spam" in err
    assert admin(db, "set-email", "alice", "none", capsys=capsys)[0] == 0
    assert admin(db, "set-email", "alice", "alice@example.org", capsys=capsys)[0] == 0
    assert admin(db, "reset-user", "alice", capsys=capsys)[0] == 0
    code, out, _ = admin(db, "outbox", "--json", capsys=capsys)
    [line] = out.splitlines()
    assert code == 0 and json.loads(line)["kind"] == "user_reset" and json.loads(line)["status"] == "pending"
    code, out, _ = admin(db, "show-notifications", capsys=capsys)
    assert json.loads(out)["enabled"] is True and json.loads(out)["outbox"]["pending"] == 1
    code, out, _ = admin(db, "set-policy", "--enrol-deadline", "2031-03-01", capsys=capsys)
    assert json.loads(out)["enrol_deadline"] == 1930089600.0  # the midnight (UTC) that starts the day
    code, out, _ = admin(db, "set-policy", "--enrol-deadline", "none", capsys=capsys)
    assert json.loads(out)["enrol_deadline"] is None


def test_the_mailer_without_a_relay_says_what_it_needs(db, capsys, monkeypatch):
    monkeypatch.delenv("TRACKER2FA_SMTP_HOST", raising=False)
    code = main(["verifier", "mailer", "--db", db, "--mail-from", "noreply@example.com"])
    assert code == 1 and "--smtp-host" in capsys.readouterr().err
    code = main(["verifier", "mailer", "--db", db, "--smtp-host", "localhost", "--mail-from", "nobody"])
    assert code == 1 and "from address" in capsys.readouterr().err
    code = main(["verifier", "mailer", "--db", db, "--smtp-host", "relay.example.com", "--smtp-security", "none",
                 "--smtp-user", "u", "--mail-from", "noreply@example.com"])
    assert code == 1 and "password" in capsys.readouterr().err
