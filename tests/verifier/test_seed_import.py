"""``tracker2fa verifier admin import``: users with TOTP factors from PSKC (plain, encrypted), CSV and JSON lines.

The PSKC files are written here by python-pskc's own writer (the shape token vendors and OTP servers
export), never copied from elsewhere. Every store-backed test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pskc import PSKC

from native_host.cli import main
from verifier.core import totp
from verifier.core.totp import TotpParams
from verifier.seeds import SeedFileError, import_seeds, read_seeds
from verifier.service import Verifier

from .conftest import fast_settings

TOTP = "urn:ietf:params:xml:ns:keyprov:pskc:totp"
HOTP = "urn:ietf:params:xml:ns:keyprov:pskc:hotp"
NOW = time.time()


def pskc_file(keys: list[dict], password: str | None = None) -> bytes:
    container = PSKC()
    for fields in keys:
        container.add_key(**{"algorithm": TOTP, "response_length": 6, "time_interval": 30,
                             "algorithm_suite": "HMAC-SHA1", "manufacturer": "Token Maker", **fields})
    if password is not None:
        container.encryption.setup_pbkdf2(password, iterations=1000)
    out = io.BytesIO()
    container.write(out)
    return out.getvalue()


def b32(secret: bytes) -> str:
    return base64.b32encode(secret).decode().rstrip("=")


DEFAULT_PARAMS = TotpParams()


def accepts(verifier: Verifier, username: str, secret: bytes, params: TotpParams = DEFAULT_PARAMS) -> bool:
    return verifier.verify_totp(username, totp.totp(secret, time.time(), params), "192.0.2.9", "pytest").ok


@pytest.fixture
def verifier(store, server_key):
    return Verifier(store, fast_settings(server_key))


def run_import(verifier: Verifier, data: bytes, **options):
    return import_seeds(verifier.store, data, server_key=verifier.settings.server_key, **options)


# ---- PSKC ------------------------------------------------------------------------------------------------
def test_a_plain_pskc_file_creates_users_whose_token_codes_verify(verifier):
    secrets_ = {f"user{i}": os.urandom(20) for i in range(3)}
    data = pskc_file([{"id": str(i), "serial": f"TK{i}", "key_userid": name, "secret": secret}
                      for i, (name, secret) in enumerate(secrets_.items())])
    report = run_import(verifier, data, name="tokens.pskcxml")
    assert (report.format, report.imported, report.rejected) == ("pskc", 3, [])
    assert all(accepts(verifier, name, secret) for name, secret in secrets_.items())


def test_an_encrypted_pskc_file_imports_with_its_password(verifier):
    secret = os.urandom(32)
    data = pskc_file([{"id": "k1", "serial": "TK1", "key_userid": "alice", "secret": secret,
                       "algorithm_suite": "HMAC-SHA256", "response_length": 8}], password="vendor pass")
    report = run_import(verifier, data, name="tokens.pskc", password="vendor pass")
    assert report.imported == 1
    assert accepts(verifier, "alice", secret, TotpParams(digits=8, algorithm="SHA256"))


def test_an_encrypted_pskc_file_with_the_wrong_password_imports_nothing(verifier):
    data = pskc_file([{"id": "k1", "key_userid": "alice", "secret": os.urandom(20)}], password="right")
    with pytest.raises(SeedFileError, match=r"key k1: cannot decrypt its secret .*wrong password"):
        run_import(verifier, data, name="t.pskc", password="wrong")
    assert verifier.store.list_users() == []


def test_an_encrypted_pskc_file_without_a_password_is_refused(verifier):
    data = pskc_file([{"id": "k1", "key_userid": "alice", "secret": os.urandom(20)}], password="right")
    with pytest.raises(SeedFileError, match="encrypted: give its password with --password-stdin"):
        run_import(verifier, data, name="t.pskc")
    assert verifier.store.list_users() == []


def test_map_serial_names_users_by_their_tokens_serial_number(verifier):
    secret = os.urandom(20)
    data = pskc_file([{"id": "k1", "serial": "TK-000123", "secret": secret}])
    assert run_import(verifier, data, name="t.pskc", map_serial=True).imported == 1
    assert accepts(verifier, "TK-000123", secret)


def test_a_pskc_key_without_userid_is_rejected_with_a_hint_to_map_serials(verifier):
    data = pskc_file([{"id": "k7", "serial": "TK7", "secret": os.urandom(20)}])
    report = run_import(verifier, data, name="t.pskc")
    assert [r.to_dict() for r in report.rejected] == [
        {"where": "key k7", "reason": "no UserId (use --map-serial to name users by their token's serial number)"}]
    assert report.imported == 0 and verifier.store.list_users() == []


def test_an_hotp_key_is_rejected_and_nothing_is_imported(verifier):
    data = pskc_file([{"id": "t1", "key_userid": "alice", "secret": os.urandom(20)},
                      {"id": "h1", "key_userid": "bob", "secret": os.urandom(20), "algorithm": HOTP}])
    report = run_import(verifier, data, name="t.pskc")
    assert [(r.where, r.reason.split(" is not TOTP")[0]) for r in report.rejected] == [
        ("key h1", f"algorithm {HOTP!r}")]
    assert verifier.store.list_users() == []


def test_skip_invalid_imports_the_valid_keys_and_reports_the_others(verifier):
    good = os.urandom(20)
    data = pskc_file([{"id": "t1", "key_userid": "alice", "secret": good},
                      {"id": "h1", "key_userid": "bob", "secret": os.urandom(20), "algorithm": HOTP}])
    report = run_import(verifier, data, name="t.pskc", skip_invalid=True)
    assert report.imported == 1 and [r.where for r in report.rejected] == ["key h1"]
    assert verifier.store.list_users() == ["alice"] and accepts(verifier, "alice", good)


@pytest.mark.parametrize("declaration", [
    b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>',
    b'<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'])
def test_a_pskc_file_declaring_entities_is_refused(verifier, declaration):
    data = pskc_file([{"id": "k1", "key_userid": "alice", "secret": os.urandom(20)}])
    hostile = data.replace(b"?>\n", b"?>\n" + declaration + b"\n", 1)
    with pytest.raises(SeedFileError, match="declares a DOCTYPE or entities"):
        run_import(verifier, hostile, name="t.pskc")
    assert verifier.store.list_users() == []


def test_a_truncated_pskc_file_is_refused_as_not_pskc(verifier):
    data = pskc_file([{"id": "k1", "key_userid": "alice", "secret": os.urandom(20)}])
    with pytest.raises(SeedFileError, match="not a PSKC file"):
        run_import(verifier, data[: len(data) // 2], name="t.pskc")
    assert verifier.store.list_users() == []


# ---- CSV and JSON lines ------------------------------------------------------------------------------------
def test_a_csv_file_creates_users_with_their_parameters_and_groups(verifier):
    a, b = os.urandom(20), os.urandom(32)
    data = (f"username,secret,digits,period,algorithm,groups\n"
            f"alice,{b32(a).lower()},6,30,SHA1,dev;ops\n"
            f"bob,{b32(b)},8,60,sha256,\n").encode()
    assert run_import(verifier, data, name="seeds.csv").imported == 2
    assert accepts(verifier, "alice", a) and accepts(verifier, "bob", b, TotpParams(8, 60, "SHA256"))
    assert verifier.store.get_user("alice")["groups"] == ["dev", "ops"]


def test_a_json_lines_file_creates_users(verifier):
    secret = os.urandom(20)
    data = (json.dumps({"username": "carol", "secret": b32(secret), "groups": ["qa"]}) + "\n\n").encode()
    report = run_import(verifier, data, name="seeds.jsonl")
    assert (report.format, report.imported) == ("jsonl", 1) and accepts(verifier, "carol", secret)


def test_a_window_column_is_stored_with_the_factor_and_an_empty_one_leaves_the_policys(verifier):
    data = (f"username,secret,window\nalice,{b32(os.urandom(20))},0\nbob,{b32(os.urandom(20))},\n").encode()
    assert run_import(verifier, data, name="seeds.csv").imported == 2
    assert verifier.store.get_totp("alice")["window_steps"] == 0
    assert verifier.store.get_totp("bob")["window_steps"] is None


@pytest.mark.parametrize("window", ["11", "-1", "one"])
def test_a_window_out_of_range_is_refused_with_the_range_and_nothing_is_imported(verifier, window):
    data = f"username,secret,window\nalice,{b32(os.urandom(20))},{window}\n".encode()
    report = run_import(verifier, data, name="seeds.csv")
    assert report.imported == 0 and verifier.store.list_users() == []
    (rejected,) = report.rejected
    assert ("window must be a whole number of steps from 0 to 10" in rejected.reason
            or "window must be a whole number, got" in rejected.reason)


def test_one_bad_row_imports_nothing_and_each_bad_row_is_reported_with_its_line(verifier):
    data = (f"username,secret\nalice,{b32(os.urandom(20))}\nbob,{b32(os.urandom(10))}\n"
            f"carol,not base32!\nalice,{b32(os.urandom(20))}\n").encode()
    report = run_import(verifier, data, name="seeds.csv")
    assert [r.to_dict() for r in report.rejected] == [
        {"where": "line 3", "reason": "the secret has 80 bits; the verifier needs at least 112 (NIST SP 800-63B): "
                                      "issue this user a new seed"},
        {"where": "line 4", "reason": "the secret is not base32 (letters A-Z and digits 2-7)"},
        {"where": "line 5", "reason": "user 'alice' appears again (first at line 2)"}]
    assert report.imported == 0 and verifier.store.list_users() == []


def test_a_user_that_already_exists_is_rejected(verifier):
    verifier.create_user("alice")
    report = run_import(verifier, f'{{"username": "alice", "secret": "{b32(os.urandom(20))}"}}\n'.encode(),
                        name="s.jsonl")
    assert [r.reason for r in report.rejected] == ["a user named 'alice' already exists"]
    assert verifier.store.get_totp("alice") is None


def test_a_csv_header_without_the_secret_column_is_refused(verifier):
    with pytest.raises(SeedFileError, match="the CSV header must name the columns username and secret"):
        run_import(verifier, b"username,seed\nalice,ABCDEFGH\n", name="s.csv")


def test_a_file_that_is_not_utf8_is_refused_with_its_line(verifier):
    with pytest.raises(SeedFileError, match=r"not UTF-8 text \(line 2"):
        run_import(verifier, b"username,secret\nal\xffice,ABC\n", name="s.csv")


def test_imported_users_get_audit_rows_naming_the_file(verifier):
    run_import(verifier, f"username,secret\ndave,{b32(os.urandom(20))}\n".encode(), name="/tmp/x/seeds.csv",
               actor="cli:admin")
    events = verifier.audit(username="dave")
    assert [(e.event, e.actor, e.detail) for e in events] == [
        ("user_created", "cli:admin", "imported from seeds.csv (csv, line 2)"),
        ("totp_enrolled", "cli:admin", "imported from seeds.csv (csv, line 2)")]


# ---- the command ------------------------------------------------------------------------------------------
def test_the_import_command_reports_json_and_refused_rows_on_stderr(store, store_url, server_key, tmp_path,
                                                                       monkeypatch, capsys):
    monkeypatch.setenv("TRACKER2FA_VERIFIER_KEY", base64.b64encode(server_key).decode())
    path = tmp_path / "seeds.csv"
    path.write_text(f"username,secret\nalice,{b32(os.urandom(20))}\nbob,AAAA\n")
    code = main(["verifier", "admin", "--db", store_url, "import", str(path)])
    out, err = capsys.readouterr()
    assert code == 1 and json.loads(out)["imported"] == 0
    assert f"{path}: line 3: the secret has 16 bits" in err and "nothing was imported" in err
    code = main(["verifier", "admin", "--db", store_url, "import", str(path), "--skip-invalid"])
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["imported"] == 1


def test_the_import_command_reads_a_pskc_password_from_stdin(store, store_url, server_key, tmp_path, monkeypatch,
                                                              capsys):
    monkeypatch.setenv("TRACKER2FA_VERIFIER_KEY", base64.b64encode(server_key).decode())
    path = tmp_path / "vendor.xml"
    path.write_bytes(pskc_file([{"id": "1", "serial": "S1", "secret": os.urandom(20)}], password="pw 1"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("pw 1\n"))
    code = main(["verifier", "admin", "--db", store_url, "import", str(path), "--password-stdin", "--map-serial"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out) == {"format": "pskc", "imported": 1, "rejected": []}


# ---- properties -------------------------------------------------------------------------------------------
names = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF, exclude_categories=("Cs", "Cc", "Zs")),
                min_size=1, max_size=20)
rows = st.lists(st.tuples(names, st.binary(min_size=14, max_size=64), st.sampled_from([6, 7, 8]),
                          st.integers(10, 300), st.sampled_from(["SHA1", "SHA256", "SHA512"])),
                max_size=8, unique_by=lambda r: r[0])


@given(rows=rows)
@settings(max_examples=50, deadline=None)
def test_csv_and_json_lines_written_by_standard_writers_read_back_unchanged(rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["username", "secret", "digits", "period", "algorithm"])
    writer.writerows([(n, b32(s), d, p, a) for n, s, d, p, a in rows])
    jsonl = "".join(json.dumps({"username": n, "secret": b32(s), "digits": d, "period": p, "algorithm": a}) + "\n"
                    for n, s, d, p, a in rows)
    for fmt, data in (("csv", out.getvalue().encode()), ("jsonl", jsonl.encode())):
        read = read_seeds(data, fmt)
        assert [(r.username, r.secret, r.digits, r.period, r.algorithm) for r in read] == rows


@given(data=st.binary(max_size=400), fmt=st.sampled_from(["pskc", "csv", "jsonl"]))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_arbitrary_bytes_give_a_clear_error_or_a_report_and_import_nothing_unless_all_valid(verifier, data, fmt):
    before = verifier.store.list_users()
    try:
        report = run_import(verifier, data, name="x", fmt=fmt)
    except SeedFileError as exc:
        assert exc.message and verifier.store.list_users() == before
        return
    if report.rejected:
        assert report.imported == 0 and verifier.store.list_users() == before
        assert all(r.where and r.reason for r in report.rejected)


@given(mutation=st.tuples(st.integers(0, 10_000), st.binary(min_size=1, max_size=8)))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_corrupted_encrypted_pskc_file_never_imports_a_secret_it_did_not_carry(verifier, mutation):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from verifier.core import sealing

    secret = os.urandom(20)
    data = bytearray(pskc_file([{"id": "k1", "key_userid": "erin", "secret": secret}], password="pw"))
    at, junk = mutation
    at %= len(data)
    data[at:at + len(junk)] = junk
    before = set(verifier.store.list_users())
    try:
        report = run_import(verifier, bytes(data), name="c.pskc", password="pw")
    except SeedFileError:
        assert set(verifier.store.list_users()) == before
        return
    aead = AESGCM(verifier.settings.server_key)
    for user in set(verifier.store.list_users()) - before:  # the name may have changed; the secret cannot
        assert sealing.unseal(aead, user, verifier.store.get_totp(user)["secret_enc"]) == secret
    assert report.imported == len(set(verifier.store.list_users()) - before)
