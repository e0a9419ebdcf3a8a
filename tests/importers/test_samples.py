"""Every real sample file imports to the entries listed in expected.json (read in place, never copied)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from native_host.errors import ImportFailed, ImportNeedsPassword, ImportWrongPassword, UnknownImportFormat
from native_host.vault.importers import FORMATS, import_file, import_result, sniff_format
from tests.importers.support import expected_files

FILES = expected_files()
IMPORTABLE = [f for f in FILES if f["entries"]]
ENCRYPTED = [f for f in FILES if f.get("encrypted")]

# Where we deliberately read more than Aegis does (see docs/import-formats.md).
HONOURS_STORED_DIGITS_AND_PERIOD = {"totp-authenticator"}

FORMAT_OF_FOLDER = {
    "aegis": "aegis",
    "2fas": "2fas",
    "andotp": "andotp",
    "bitwarden": "bitwarden",
    "freeotp-plus": "freeotp-plus",
    "freeotp": "freeotp-plus",
    "otpauth-uri-list": "otpauth",
    "ente-auth": "otpauth",
    "proton-authenticator": "proton",
    "authenticator-pro": "authenticator-pro",
    "authy": "authy",
    "totp-authenticator": "totp-authenticator",
    "duo": "duo",
    "steam": "steam",
    "battle-net": "battle-net",
    "google-authenticator-migration": "google",
}


# Files no content test can tell from random bytes: an old-format andOTP backup is a random nonce and
# ciphertext from its first byte (andOTP itself makes the user pick "old format"). The user names the format,
# or the file keeps the name andOTP gives it (otp_accounts_<date>.json.aes).
NAMED_ONLY = {"andotp/andotp_encrypted_old.bin": ("andotp", "otp_accounts_2019-01-01_12-00-00.json.aes")}


def _format_to_give(sample: dict[str, Any]) -> str:
    return NAMED_ONLY[sample["path"]][0] if sample["path"] in NAMED_ONLY else "auto"


def _ids(files: list[dict[str, Any]]) -> list[str]:
    return [f["path"] for f in files]


def _want(sample: dict[str, Any], vectors: dict[str, Any]) -> list[tuple]:
    rows = []
    for e in sample["entries"]:
        digits, period = e["digits"], e.get("period")
        if sample["path"].split("/")[0] in HONOURS_STORED_DIGITS_AND_PERIOD:
            digits, period = vectors[e["vector"]]["digits"], vectors[e["vector"]]["period"]
        last = e["counter"] if e["type"] == "hotp" else period
        rows.append((e["type"], e["issuer"], e["name"], e["secret"], e["algorithm"], digits, last))
    return rows


def _got(entries) -> list[tuple]:
    return [
        (e.kind, e.issuer, e.account, e.secret, e.algorithm, e.digits, e.counter if e.kind == "hotp" else e.period)
        for e in entries
    ]


@pytest.mark.parametrize("sample", IMPORTABLE, ids=_ids(IMPORTABLE))
def test_sample_imports_to_the_expected_entries(sample, import_samples: Path, expected):
    path = import_samples / sample["path"]
    entries = import_file(path, format=_format_to_give(sample), password=sample.get("password"))
    assert _got(entries) == _want(sample, expected["vectors"])
    assert len(entries) == sample["entry_count"]


RECOGNISABLE = [f for f in IMPORTABLE if f["path"] not in NAMED_ONLY]


@pytest.mark.parametrize("sample", RECOGNISABLE, ids=_ids(RECOGNISABLE))
def test_sample_format_is_recognised_automatically(sample, import_samples: Path):
    data = (import_samples / sample["path"]).read_bytes()
    assert sniff_format(data) == FORMAT_OF_FOLDER[sample["path"].split("/")[0]]


@pytest.mark.parametrize("path", sorted(NAMED_ONLY))
def test_a_sample_without_any_structure_is_not_guessed_but_told_how_to_name_it(path, import_samples: Path):
    with pytest.raises(UnknownImportFormat) as info:
        sniff_format((import_samples / path).read_bytes())
    assert f"--format {NAMED_ONLY[path][0]}" in info.value.message


@pytest.mark.parametrize("path", sorted(NAMED_ONLY))
def test_a_sample_without_any_structure_is_recognised_by_the_name_its_app_gives_it(path, import_samples: Path):
    fmt, app_file_name = NAMED_ONLY[path]
    assert sniff_format((import_samples / path).read_bytes(), app_file_name) == fmt


@pytest.mark.parametrize("sample", IMPORTABLE, ids=_ids(IMPORTABLE))
def test_sample_imports_the_same_with_its_format_named(sample, import_samples: Path):
    path = import_samples / sample["path"]
    named = import_file(path, format=FORMAT_OF_FOLDER[sample["path"].split("/")[0]], password=sample.get("password"))
    assert _got(named) == _got(import_file(path, format=_format_to_give(sample), password=sample.get("password")))


@pytest.mark.parametrize("sample", ENCRYPTED, ids=_ids(ENCRYPTED))
def test_encrypted_sample_without_password_asks_for_one(sample, import_samples: Path):
    with pytest.raises(ImportNeedsPassword) as info:
        import_file(import_samples / sample["path"], format=_format_to_give(sample))
    assert info.value.code == "import_needs_password"


@pytest.mark.parametrize("sample", ENCRYPTED, ids=_ids(ENCRYPTED))
def test_encrypted_sample_with_wrong_password_says_so(sample, import_samples: Path):
    with pytest.raises(ImportWrongPassword) as info:
        import_file(import_samples / sample["path"], format=_format_to_give(sample), password="not the password")
    assert info.value.code == "import_wrong_password"


def test_every_format_has_a_sample_or_is_listed_as_without_one():
    covered = set(FORMAT_OF_FOLDER.values()) | {"ente"}
    assert set(FORMATS) <= covered


def test_migration_export_keeps_accounts_that_share_a_secret(import_samples: Path):
    entries = import_file(import_samples / "google-authenticator-migration/example_export.txt")
    assert len({e.secret for e in entries}) == 1 and len(entries) == 6


def test_migration_with_invalid_payload_is_rejected(import_samples: Path):
    with pytest.raises(ImportFailed, match="cannot decode migration payload"):
        import_file(import_samples / "google-authenticator-migration/test_export_wrong_data.txt")


def test_migration_line_with_junk_before_the_scheme_is_rejected(import_samples: Path):
    with pytest.raises(ImportFailed, match="not an otpauth-migration"):
        import_file(import_samples / "google-authenticator-migration/test_export_wrong_prefix.txt")


def test_import_result_names_the_detected_format(import_samples: Path):
    result = import_result((import_samples / "aegis/aegis_plain.json").read_bytes())
    assert result.format == "aegis" and result.skipped == []
