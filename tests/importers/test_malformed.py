"""Malformed files: a clear error naming the problem, and nothing imported unless skip_invalid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from native_host.errors import ImportFailed, ImportNeedsPassword, UnknownImportFormat
from native_host.vault.importers import import_bytes, import_file, import_file_result, import_result

GOOD = "4SJHB4GSD43FZBAI7C2HLRJGPQ"


def aegis(entries: list, version: int = 1, db_version: int = 2) -> bytes:
    doc = {"version": version, "header": {"slots": None, "params": None},
           "db": {"version": db_version, "entries": entries}}
    return json.dumps(doc).encode()


def aegis_entry(secret: str = GOOD, kind: str = "totp", name: str = "alice") -> dict:
    return {"type": kind, "name": name, "issuer": "ACME",
            "info": {"secret": secret, "algo": "SHA1", "digits": 6, "period": 30}}


def test_one_bad_entry_imports_nothing_and_names_the_entry():
    data = aegis([aegis_entry(), aegis_entry(secret="not base32!"), aegis_entry(name="carol")])
    with pytest.raises(ImportFailed, match=r"entry 2: .*Base32.*Nothing was imported"):
        import_bytes(data)


def test_skip_invalid_keeps_the_good_entries_and_reports_the_bad():
    data = aegis([aegis_entry(), aegis_entry(secret="not base32!"), aegis_entry(name="carol")])
    result = import_result(data, skip_invalid=True)
    assert [e.account for e in result.entries] == ["alice", "carol"]
    assert len(result.skipped) == 1 and result.skipped[0].startswith("entry 2:")


def test_error_message_never_contains_the_secret():
    with pytest.raises(ImportFailed) as info:
        import_bytes(aegis([aegis_entry(secret="ABCDEFGH1")]))
    assert "ABCDEFGH1" not in str(info.value)


def test_unsupported_otp_type_is_named():
    with pytest.raises(ImportFailed, match="unsupported OTP type 'motp'"):
        import_bytes(aegis([aegis_entry(kind="motp")]))


def test_aegis_unknown_vault_version_is_rejected():
    with pytest.raises(ImportFailed, match="Aegis vault version 2"):
        import_bytes(aegis([aegis_entry()], version=2), format="aegis")


def test_aegis_unknown_database_version_is_rejected():
    with pytest.raises(ImportFailed, match="database version 9"):
        import_bytes(aegis([aegis_entry()], db_version=9))


def test_aegis_entry_without_info_is_named():
    with pytest.raises(ImportFailed, match=r"entry 1: .*info"):
        import_bytes(aegis([{"type": "totp", "name": "x"}]))


def test_aegis_slot_with_absurd_scrypt_cost_is_refused_before_deriving():
    doc = {"version": 1, "header": {"slots": [{"type": 1, "key": "00" * 32, "key_params": {"nonce": "00" * 12,
           "tag": "00" * 16}, "n": 2**30, "r": 8, "p": 1, "salt": "00" * 32}], "params": {"nonce": "00" * 12,
           "tag": "00" * 16}}, "db": "AAAA"}
    with pytest.raises(ImportFailed, match="implausible scrypt"):
        import_bytes(json.dumps(doc).encode(), password="x")


def test_aegis_encrypted_without_password_slot_says_so():
    doc = {"version": 1, "header": {"slots": [{"type": 2}], "params": {}}, "db": "AAAA"}
    with pytest.raises(ImportFailed, match="no password slot"):
        import_bytes(json.dumps(doc).encode(), password="x")


def test_2fas_newer_schema_is_rejected():
    data = json.dumps({"schemaVersion": 5, "services": []}).encode()
    with pytest.raises(ImportFailed, match="schema version 5"):
        import_bytes(data)


def test_2fas_encrypted_field_with_wrong_shape_is_named():
    data = json.dumps({"schemaVersion": 4, "services": [], "servicesEncrypted": "abc:def"}).encode()
    with pytest.raises(ImportFailed, match="three parts"):
        import_bytes(data, password="x")


def test_2fas_encrypted_without_password_asks_for_one():
    data = json.dumps({"schemaVersion": 4, "services": [], "servicesEncrypted": "a:b:c"}).encode()
    with pytest.raises(ImportNeedsPassword):
        import_bytes(data)


def test_andotp_unsupported_type_is_named():
    data = json.dumps([{"secret": GOOD, "type": "MOTP", "label": "x"}]).encode()
    with pytest.raises(ImportFailed, match="MOTP"):
        import_bytes(data)


def test_andotp_old_label_is_split_into_issuer_and_account():
    data = json.dumps([{"secret": GOOD, "type": "TOTP", "label": "Deno - Deno:Mason", "digits": 6}]).encode()
    [e] = import_bytes(data)
    assert (e.issuer, e.account) == ("Deno", "Deno:Mason")


def test_bitwarden_encrypted_export_is_refused_with_advice():
    data = json.dumps({"encrypted": True, "items": []}).encode()
    with pytest.raises(ImportFailed, match="export as unencrypted"):
        import_bytes(data)


def test_bitwarden_logins_without_totp_are_not_errors():
    items = [{"name": "a", "login": {"totp": None}}, {"name": "b", "login": {"username": "bob", "totp": GOOD}}]
    [e] = import_bytes(json.dumps({"encrypted": False, "items": items}).encode())
    assert (e.issuer, e.account, e.secret) == ("b", "bob", GOOD)


def test_bitwarden_export_without_any_totp_has_no_accounts():
    data = json.dumps({"encrypted": False, "items": [{"name": "a", "login": {}}]}).encode()
    with pytest.raises(ImportFailed, match="holds no accounts"):
        import_bytes(data)


def test_bitwarden_csv_without_totp_column_is_rejected():
    with pytest.raises(ImportFailed, match="login_totp"):
        import_bytes(b"folder,name\n,a\n", format="bitwarden")


def test_freeotp_secret_with_a_non_byte_is_named():
    data = json.dumps({"tokenOrder": ["x"], "tokens": [{"type": "TOTP", "secret": [1, 999], "label": "x"}]})
    with pytest.raises(ImportFailed, match="not a byte"):
        import_bytes(data.encode())


def test_authenticator_pro_unsupported_type_is_named():
    data = json.dumps({"Authenticators": [{"Type": 3, "Secret": GOOD}]}).encode()
    with pytest.raises(ImportFailed, match="authenticator type 3"):
        import_bytes(data)


def test_authenticator_pro_truncated_encrypted_backup_is_named():
    with pytest.raises(ImportFailed, match="truncated"):
        import_bytes(b"AUTHENTICATORPRO" + b"\0" * 10, password="x")


def test_proton_unknown_version_is_rejected():
    with pytest.raises(ImportFailed, match="version 2"):
        import_bytes(json.dumps({"version": 2, "entries": []}).encode())


def test_uri_list_with_a_bad_line_names_the_line():
    data = f"otpauth://totp/a?secret={GOOD}\n\notpauth://totp/b?secret=!!\n".encode()
    with pytest.raises(ImportFailed, match="line 3"):
        import_bytes(data)


def test_xml_with_entity_declarations_is_refused():
    data = b'<?xml version="1.0"?><!DOCTYPE map [<!ENTITY a "b">]><map><string name="tokenOrder">[]</string></map>'
    with pytest.raises(ImportFailed, match="entities"):
        import_bytes(data, format="freeotp-plus")


def test_broken_xml_is_named():
    with pytest.raises(ImportFailed, match="bad XML"):
        import_bytes(b"<map><string name='x'>", format="authy")


def test_broken_json_names_the_line():
    with pytest.raises(ImportFailed, match="bad JSON at line 2"):
        import_bytes(b'{"version": 1,\n "header": }', format="aegis")


def test_unrecognised_json_is_an_unknown_format():
    with pytest.raises(UnknownImportFormat, match="--format"):
        import_bytes(b'{"hello": "world"}')


def test_unrecognised_text_is_an_unknown_format():
    with pytest.raises(UnknownImportFormat):
        import_bytes(b"just some notes, no accounts here!")


def test_unknown_format_name_lists_the_known_ones():
    with pytest.raises(UnknownImportFormat, match="known: otpauth, google, aegis"):
        import_bytes(b"x", format="lastpass")


def test_empty_file_is_rejected():
    with pytest.raises(ImportFailed, match="empty"):
        import_bytes(b"  \n")


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(ImportFailed, match="no such file"):
        import_file(tmp_path / "nope.json")


def test_directory_is_not_a_file(tmp_path: Path):
    with pytest.raises(ImportFailed, match="directory"):
        import_file(tmp_path)


def test_non_utf8_text_format_is_named():
    with pytest.raises(ImportFailed, match="not UTF-8"):
        import_bytes(b"\xc3\x28 otpauth", format="otpauth")


def test_uri_list_saved_as_utf16_is_read():
    data = f"otpauth://totp/Deno:Mason?secret={GOOD}\r\n".encode("utf-16")
    [e] = import_bytes(data)
    assert (e.issuer, e.account, e.secret) == ("Deno", "Mason", GOOD)


def test_json_with_a_utf8_byte_order_mark_is_read():
    data = b"\xef\xbb\xbf" + json.dumps([{"secret": GOOD, "type": "TOTP", "issuer": "A", "label": "b"}]).encode()
    [e] = import_bytes(data)
    assert (e.issuer, e.account) == ("A", "b")


def test_aegis_database_version_3_keeps_the_note_and_ignores_groups():
    entry = {**aegis_entry(), "note": "recovery desk: ext 42", "favorite": True, "icon_hash": None,
             "groups": ["5b0c5ba2-5a25-4c2b-9b1e-0f3d6b6d2f41"]}
    doc = json.loads(aegis([entry], db_version=3))
    doc["db"]["groups"] = [{"uuid": "5b0c5ba2-5a25-4c2b-9b1e-0f3d6b6d2f41", "name": "Work"}]
    [e] = import_bytes(json.dumps(doc).encode())
    assert (e.account, e.note) == ("alice", "recovery desk: ext 42")


def test_file_result_reports_format_and_skipped_records(tmp_path: Path):
    path = tmp_path / "export.txt"
    path.write_text(f"otpauth://totp/a?secret={GOOD}\notpauth://totp/b?secret=!!\n", encoding="utf-8")
    result = import_file_result(path, skip_invalid=True)
    assert result.format == "otpauth" and [e.account for e in result.entries] == ["a"]
    assert len(result.skipped) == 1 and result.skipped[0].startswith("line 2:")


def test_truncated_json_names_the_line_even_when_sniffing():
    with pytest.raises(ImportFailed, match="broken at line 3"):
        import_bytes(b'{\n "version": 1,\n "header": {"slots": nu')
