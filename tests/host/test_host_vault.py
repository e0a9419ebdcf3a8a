"""The vault over the real host process: status, unlock, entries, codes bound to origins, edits, auto-lock, cancel."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pyotp
import pytest

from native_host.framing import MAX_REPLY_BYTES
from native_host.vault.entry import MAX_FIELD_LENGTH, MAX_ORIGINS

PASSWORD = "correct horse battery staple"
JIRA = "https://jira.example.com"
JIRA_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
WIKI_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def _create_vault(path: Path, cost: str = "minimum") -> dict[str, str]:
    from native_host.vault import VaultFile
    from native_host.vault.entry import Entry

    vault = VaultFile(path).create(PASSWORD, kdf_cost=cost)
    jira = vault.add(Entry(secret=JIRA_SECRET, issuer="Jira", account="ann", origins=[JIRA]))
    wiki = vault.add(
        Entry(secret=WIKI_SECRET, issuer="Confluence", account="ann", origins=["https://wiki.example.com"])
    )
    vault.lock()
    return {"jira": jira.id, "wiki": wiki.id}


@pytest.fixture
def vault_ids(host_env) -> dict[str, str]:
    """A minimum-KDF vault at $TRACKER2FA_VAULT with a Jira entry and a Confluence entry."""
    return _create_vault(Path(host_env["TRACKER2FA_VAULT"]))


@pytest.fixture(scope="module")
def slow_vault(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A vault with the default (slow) KDF cost, so that an unlock is still running when a cancel arrives."""
    path = tmp_path_factory.mktemp("slow") / "vault.json"
    return path, _create_vault(path, cost="default")


def code_matches(secret: str, code: str, before: float, after: float) -> bool:
    totp = pyotp.TOTP(secret)
    return code in {totp.at(before), totp.at(after)}


@pytest.fixture
def unlocked(spawn_host, vault_ids):
    host = spawn_host()
    assert host.result("vault.unlock", {"password": PASSWORD}) == {"unlocked": True, "entries": 2}
    return host


def test_status_reports_a_locked_vault(spawn_host, vault_ids, host_env):
    status = spawn_host().result("vault.status")
    assert status == {
        "exists": True,
        "unlocked": False,
        "path": host_env["TRACKER2FA_VAULT"],
        "entries": None,
        "auto_lock_seconds": 300,
        "security_keys": [],  # no key enrolled (tests/host/test_host_vault_status_keys.py)
    }


def test_status_reports_a_missing_vault(spawn_host):
    status = spawn_host().result("vault.status")
    assert status["exists"] is False
    assert status["unlocked"] is False


def test_unlock_of_a_missing_vault_says_so(spawn_host):
    assert spawn_host().error_code("vault.unlock", {"password": PASSWORD}) == "vault_not_found"


def test_a_wrong_password_is_refused_and_the_vault_stays_locked(spawn_host, vault_ids):
    host = spawn_host()
    assert host.error_code("vault.unlock", {"password": "wrong"}) == "wrong_password"
    assert host.result("vault.status")["unlocked"] is False


def test_a_locked_vault_gives_no_code(spawn_host, vault_ids):
    host = spawn_host()
    assert host.error_code("vault.code", {"id": vault_ids["jira"], "origin": JIRA}) == "vault_locked"


def test_full_flow_status_unlock_entries_code(spawn_host, vault_ids):
    host = spawn_host()
    assert host.result("vault.status")["unlocked"] is False
    assert host.result("vault.unlock", {"password": PASSWORD})["entries"] == 2
    assert host.result("vault.status")["entries"] == 2
    entries = host.result("vault.entries", {"origin": JIRA})["entries"]
    assert [e["id"] for e in entries] == [vault_ids["jira"]]
    before = time.time()
    result = host.result("vault.code", {"id": vault_ids["jira"], "origin": JIRA})
    after = time.time()
    assert code_matches(JIRA_SECRET, result["code"], before, after)
    assert result["period"] == 30
    assert 0 < result["expires_in"] <= 30


@pytest.mark.parametrize(
    "origin",
    [
        "https://jira.example.com.evil.test",
        "http://jira.example.com",
        "https://jira.example.com:8443",
        "https://evil.test",
    ],
)
def test_a_code_is_refused_for_any_other_origin(unlocked, vault_ids, origin):
    assert unlocked.error_code("vault.code", {"id": vault_ids["jira"], "origin": origin}) == "origin_not_allowed"
    assert unlocked.result("vault.entries", {"origin": origin})["entries"] == []


def test_a_full_url_is_reduced_to_its_origin(unlocked, vault_ids):
    result = unlocked.result("vault.code", {"id": vault_ids["jira"], "origin": f"{JIRA}/secure/Login.jspa?x=1"})
    assert result["code"].isdigit()


def test_entries_never_carry_secrets(unlocked):
    entries = unlocked.result("vault.entries")["entries"]
    assert len(entries) == 2
    text = repr(entries)
    assert JIRA_SECRET not in text and WIKI_SECRET not in text
    assert all("secret" not in e for e in entries)


def test_copy_code_needs_no_origin(unlocked, vault_ids):
    before = time.time()
    result = unlocked.result("vault.copy_code", {"id": vault_ids["wiki"]})
    assert code_matches(WIKI_SECRET, result["code"], before, time.time())


def test_an_unknown_entry_is_entry_not_found(unlocked):
    assert unlocked.error_code("vault.code", {"id": "nope", "origin": JIRA}) == "entry_not_found"


def test_add_by_uri_binds_the_origins_and_is_saved(spawn_host, unlocked):
    uri = "otpauth://totp/YouTrack:ann?secret=KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU&issuer=YouTrack"
    entry = unlocked.result("vault.add", {"uri": uri, "origins": ["https://youtrack.example.com/"]})["entry"]
    assert entry["issuer"] == "YouTrack"
    assert entry["origins"] == ["https://youtrack.example.com"]
    other = spawn_host()  # another browser's host sees the saved entry
    other.result("vault.unlock", {"password": PASSWORD})
    found = other.result("vault.entries", {"origin": "https://youtrack.example.com"})["entries"]
    assert [e["id"] for e in found] == [entry["id"]]


def test_add_by_fields_checks_their_types(unlocked):
    entry = {"secret": "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU", "issuer": "GitLab", "digits": 8}
    added = unlocked.result("vault.add", {"entry": entry, "origins": ["https://gitlab.example.com"]})["entry"]
    assert added["digits"] == 8
    wrong_type = {"secret": "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU", "digits": "8"}
    bad = {"id": "bad", "method": "vault.add", "params": {"entry": wrong_type}}
    unlocked.send(bad)
    assert unlocked.reply_to("bad")["error"]["code"] == "bad_request"


def test_a_secret_typed_in_the_popup_that_is_cut_short_is_refused_and_nothing_is_added(unlocked):
    unlocked.send({"id": "short", "method": "vault.add", "params": {"entry": {"secret": "JBSWY3DP"}}})
    error = unlocked.reply_to("short")["error"]
    assert error["code"] == "invalid_secret" and "too short: 8 characters" in error["message"]
    assert len(unlocked.result("vault.entries")["entries"]) == 2


def test_a_bad_uri_is_refused_and_nothing_is_added(unlocked):
    assert unlocked.error_code("vault.add", {"uri": "otpauth://totp/x?secret=not*base32", "origins": [JIRA]}) in {
        "invalid_uri",
        "invalid_secret",
    }
    assert len(unlocked.result("vault.entries")["entries"]) == 2


def test_a_bad_origin_in_add_is_refused_and_nothing_is_added(unlocked):
    uri = "otpauth://totp/X:y?secret=KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
    assert unlocked.error_code("vault.add", {"uri": uri, "origins": ["ftp://x.test"]}) == "invalid_origin"
    assert len(unlocked.result("vault.entries")["entries"]) == 2


NOT_WEB_ORIGINS = ["javascript:alert(1)", "null", "data:text/html,x", "file:///etc/passwd", "https://exa mple.com"]


@pytest.mark.parametrize("origin", NOT_WEB_ORIGINS)
def test_an_invalid_origin_gets_invalid_origin(unlocked, origin):
    # Unlocked first: a locked vault would answer vault_locked whatever the origin.
    assert unlocked.error_code("vault.entries", {"origin": origin}) == "invalid_origin"


@pytest.mark.parametrize("origin", NOT_WEB_ORIGINS)
def test_an_invalid_origin_gets_no_code(unlocked, vault_ids, origin):
    assert unlocked.error_code("vault.code", {"id": vault_ids["jira"], "origin": origin}) == "invalid_origin"


def test_an_idn_origin_binds_the_site_the_browser_names_not_its_idna_2003_twin(unlocked):
    uri = "otpauth://totp/Shop:ann?secret=KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU&issuer=Shop"
    entry = unlocked.result("vault.add", {"uri": uri, "origins": ["https://Straße.example/login"]})["entry"]
    assert entry["origins"] == ["https://xn--strae-oqa.example"]  # Chromium's sender.origin for straße
    found = unlocked.result("vault.entries", {"origin": "https://xn--strae-oqa.example"})["entries"]
    assert [e["id"] for e in found] == [entry["id"]]
    assert unlocked.result("vault.code", {"id": entry["id"], "origin": "https://xn--strae-oqa.example"})["code"]
    assert unlocked.result("vault.entries", {"origin": "https://strasse.example"})["entries"] == []
    assert unlocked.error_code("vault.code", {"id": entry["id"], "origin": "https://strasse.example"}) == (
        "origin_not_allowed"
    )


def test_update_renames_an_entry(unlocked, vault_ids):
    entry = unlocked.result("vault.update", {"id": vault_ids["jira"], "issuer": "Jira Cloud"})["entry"]
    assert entry["issuer"] == "Jira Cloud"
    assert entry["origins"] == [JIRA]


def test_remove_deletes_an_entry(unlocked, vault_ids):
    assert unlocked.result("vault.remove", {"id": vault_ids["wiki"]}) == {}
    assert unlocked.error_code("vault.copy_code", {"id": vault_ids["wiki"]}) == "entry_not_found"


def test_bind_adds_an_origin_explicitly(unlocked, vault_ids):
    confluence = "https://confluence.example.com"
    assert unlocked.error_code("vault.code", {"id": vault_ids["jira"], "origin": confluence}) == "origin_not_allowed"
    entry = unlocked.result("vault.bind", {"id": vault_ids["jira"], "origin": confluence})["entry"]
    assert set(entry["origins"]) == {JIRA, confluence}
    assert unlocked.result("vault.code", {"id": vault_ids["jira"], "origin": confluence})["code"].isdigit()


def test_unlock_announces_itself_with_an_event(spawn_host, vault_ids):
    host = spawn_host()
    host.request("vault.unlock", {"password": PASSWORD})
    assert host.recv() == {"event": "vault.unlocked"}


def test_lock_forgets_the_key_and_says_so(unlocked, vault_ids):
    assert unlocked.result("vault.lock") == {"unlocked": False}
    events = [unlocked.recv(), unlocked.recv()]  # the unlock's event, still queued, then the lock's
    assert events == [{"event": "vault.unlocked"}, {"event": "vault.locked", "reason": "request"}]
    assert unlocked.error_code("vault.entries") == "vault_locked"


def test_the_vault_locks_itself_after_the_idle_time(spawn_host, vault_ids):
    host = spawn_host()
    assert host.result("settings.set", {"auto_lock_seconds": 1}) == {"auto_lock_seconds": 1}
    host.result("vault.unlock", {"password": PASSWORD})
    assert host.recv() == {"event": "vault.unlocked"}
    assert host.recv() == {"event": "vault.locked", "reason": "idle"}
    assert host.result("vault.status")["unlocked"] is False
    assert host.error_code("vault.code", {"id": vault_ids["jira"], "origin": JIRA}) == "vault_locked"


def _reply_bytes(reply: dict) -> int:
    """The size of a reply's JSON as the host writes it (framing.encode_message's settings)."""
    return len(json.dumps(reply, ensure_ascii=False, separators=(",", ":")).encode())


def test_a_listing_larger_than_one_reply_comes_in_pages_that_each_fit(spawn_host, host_env):
    from native_host.vault import VaultFile
    from native_host.vault.entry import Entry

    vault = VaultFile(Path(host_env["TRACKER2FA_VAULT"])).create(PASSWORD, kdf_cost="minimum")
    added = vault.add_many([Entry(secret=JIRA_SECRET, issuer=f"{i:04d}" + "é" * 1000) for i in range(1100)])
    vault.lock()
    host = spawn_host()
    host.result("vault.unlock", {"password": PASSWORD})
    seen, offset, pages = [], 0, 0
    while offset is not None:
        reply = host.call("vault.entries", {"offset": offset})
        assert "result" in reply, reply["error"]
        assert _reply_bytes(reply) <= MAX_REPLY_BYTES
        seen += [e["id"] for e in reply["result"]["entries"]]
        offset, pages = reply["result"]["next_offset"], pages + 1
    assert pages > 1
    assert seen == [e.id for e in added]  # every entry once, in order


def test_an_entry_too_large_for_a_reply_from_an_older_vault_is_listed_shortened(spawn_host, host_env, monkeypatch):
    from native_host.vault import VaultFile, unlocked
    from native_host.vault.entry import Entry

    monkeypatch.setattr(unlocked, "oversized_field", lambda entry: None)  # a vault written before the caps
    vault = VaultFile(Path(host_env["TRACKER2FA_VAULT"])).create(PASSWORD, kdf_cost="minimum")
    huge = vault.add(Entry(secret=JIRA_SECRET, issuer="x" * 1_100_000, origins=[JIRA]))
    small = vault.add(Entry(secret=WIKI_SECRET, issuer="Wiki", origins=[JIRA]))
    vault.lock()
    host = spawn_host()
    host.result("vault.unlock", {"password": PASSWORD})
    reply = host.call("vault.entries", {"origin": JIRA})
    assert _reply_bytes(reply) <= MAX_REPLY_BYTES
    listed = reply["result"]["entries"]
    assert [e["id"] for e in listed] == [huge.id, small.id]
    assert listed[0]["truncated"] is True and len(listed[0]["issuer"]) == MAX_FIELD_LENGTH["issuer"]
    assert "truncated" not in listed[1]
    assert host.result("vault.remove", {"id": huge.id}) == {}  # and the user can clean it up from the popup


@pytest.mark.parametrize("field", ["issuer", "account", "note"])
def test_add_and_update_refuse_the_same_oversized_field_and_change_nothing(unlocked, vault_ids, host_env, field):
    vault_file = Path(host_env["TRACKER2FA_VAULT"])
    before = vault_file.read_bytes()
    cap = MAX_FIELD_LENGTH[field]
    too_long = "x" * (cap + 1)
    add = unlocked.call("vault.add", {"entry": {"secret": WIKI_SECRET, field: too_long}, "origins": [JIRA]})
    update = unlocked.call("vault.update", {"id": vault_ids["jira"], field: too_long})
    for reply in (add, update):
        assert reply["error"]["code"] == "bad_request"
        assert repr(field) in reply["error"]["message"] and str(cap) in reply["error"]["message"]
    assert vault_file.read_bytes() == before
    assert len(unlocked.result("vault.entries")["entries"]) == 2
    fits = "x" * cap
    assert unlocked.result("vault.add", {"entry": {"secret": WIKI_SECRET, field: fits}})["entry"]["id"]
    assert unlocked.result("vault.update", {"id": vault_ids["jira"], field: fits})["entry"]["id"] == vault_ids["jira"]


def test_a_megabyte_issuer_is_refused_by_add_and_nothing_is_saved(unlocked, host_env):
    vault_file = Path(host_env["TRACKER2FA_VAULT"])
    before = vault_file.read_bytes()
    reply = unlocked.call("vault.add", {"entry": {"secret": WIKI_SECRET, "issuer": "x" * 1_100_000}})
    assert reply["error"]["code"] == "bad_request" and "'issuer'" in reply["error"]["message"]
    assert vault_file.read_bytes() == before
    assert len(unlocked.result("vault.entries")["entries"]) == 2


def test_an_otpauth_uri_with_an_oversized_issuer_is_refused_and_nothing_is_saved(unlocked, host_env):
    vault_file = Path(host_env["TRACKER2FA_VAULT"])
    before = vault_file.read_bytes()
    uri = f"otpauth://totp/{'x' * 1025}:ann?secret={WIKI_SECRET}"
    reply = unlocked.call("vault.add", {"uri": uri})
    assert reply["error"]["code"] == "bad_request" and "'issuer'" in reply["error"]["message"]
    assert vault_file.read_bytes() == before


def test_binding_more_origins_than_the_cap_is_refused(unlocked, vault_ids):
    origins = [f"https://t{i}.example" for i in range(MAX_ORIGINS)]
    entry = unlocked.result("vault.update", {"id": vault_ids["jira"], "origins": origins})["entry"]
    assert len(entry["origins"]) == MAX_ORIGINS
    reply = unlocked.call("vault.bind", {"id": vault_ids["jira"], "origin": "https://one-more.example"})
    assert reply["error"]["code"] == "bad_request" and "100 origins" in reply["error"]["message"]


def test_cancel_stops_a_queued_request(spawn_host, host_env, slow_vault):
    path, ids = slow_vault
    shutil.copy(path, host_env["TRACKER2FA_VAULT"])
    host = spawn_host()
    from .conftest import frame

    host.send_raw(
        frame({"id": "unlock", "method": "vault.unlock", "params": {"password": PASSWORD}})
        + frame({"id": "code", "method": "vault.code", "params": {"id": ids["jira"], "origin": JIRA}})
        + frame({"id": "stop", "method": "cancel", "params": {"target": "code"}})
    )
    assert host.reply_to("stop")["result"] == {"cancelled": True}
    assert host.reply_to("code")["error"]["code"] == "cancelled"
    assert host.reply_to("unlock")["result"]["unlocked"] is True


def test_cancel_of_a_running_unlock_discards_the_key(spawn_host, host_env, slow_vault):
    path, _ = slow_vault
    shutil.copy(path, host_env["TRACKER2FA_VAULT"])
    host = spawn_host()
    from .conftest import frame

    host.send_raw(
        frame({"id": "unlock", "method": "vault.unlock", "params": {"password": PASSWORD}})
        + frame({"id": "stop", "method": "cancel", "params": {"target": "unlock"}})
    )
    assert host.reply_to("stop")["result"] == {"cancelled": True}
    assert host.reply_to("unlock")["error"]["code"] == "cancelled"
    assert host.result("vault.status")["unlocked"] is False


def test_two_hosts_adding_at_once_lose_no_entry(spawn_host, vault_ids):
    # Two browsers, two hosts, one vault file: every add from both must survive.
    from .conftest import frame

    hosts = [spawn_host(), spawn_host()]
    for host in hosts:
        host.result("vault.unlock", {"password": PASSWORD})
    for n, host in enumerate(hosts):
        host.send_raw(
            b"".join(
                frame(
                    {
                        "id": f"add{i}",
                        "method": "vault.add",
                        "params": {"entry": {"secret": JIRA_SECRET, "issuer": f"h{n}-{i}"}},
                    }
                )
                for i in range(8)
            )
        )
    for host in hosts:
        for i in range(8):
            assert "result" in host.reply_to(f"add{i}")
    checker = spawn_host()
    checker.result("vault.unlock", {"password": PASSWORD})
    issuers = {e["issuer"] for e in checker.result("vault.entries")["entries"]}
    assert {f"h{n}-{i}" for n in range(2) for i in range(8)} <= issuers
    assert len(issuers) == 18


def test_the_code_path_imports_no_fido2_asyncio_websockets_or_argparse(vault_ids, host_env):
    import subprocess
    import sys

    script = (
        "import sys, threading\n"
        "from native_host.api import Session\n"
        "from native_host.config import load_config\n"
        "session, go = Session(load_config(), lambda event: None), threading.Event()\n"
        f"session.call('vault.unlock', {{'password': {PASSWORD!r}}}, go)\n"
        f"session.call('vault.code', {{'id': {vault_ids['jira']!r}, 'origin': {JIRA!r}}}, go)\n"
        "print(','.join(m for m in ('fido2', 'asyncio', 'websockets', 'argparse') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=host_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_backup_codes_are_given_once_each_and_only_to_the_bound_origin(spawn_host, host_env):
    from native_host.vault import VaultFile
    from native_host.vault.entry import Entry

    vault = VaultFile(Path(host_env["TRACKER2FA_VAULT"])).create(PASSWORD, kdf_cost="minimum")
    codes = [{"code": "11112222", "used": False}, {"code": "33334444", "used": False}]
    entry = vault.add(Entry(secret=JIRA_SECRET, issuer="Jira", origins=[JIRA], backup_codes=codes))
    vault.lock()
    host = spawn_host()
    host.result("vault.unlock", {"password": PASSWORD})
    evil = {"id": entry.id, "origin": "https://jira.example.com.evil.test"}
    assert host.error_code("vault.backup_code", evil) == "origin_not_allowed"
    first = host.result("vault.backup_code", {"id": entry.id, "origin": JIRA})
    second = host.result("vault.backup_code", {"id": entry.id, "origin": JIRA})
    assert {first["code"], second["code"]} == {"11112222", "33334444"}
    assert (first["remaining"], second["remaining"]) == (1, 0)
