"""CLI errors a newcomer meets say what to do instead (issue 12, items 4 and 6)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from native_host.errors import InvalidOrigin
from native_host.origins import normalize_origin
from native_host.vault import VaultFile
from native_host.vault.importers import FORMATS

from .conftest import JIRA_URI, NEW_PASSWORD, PASSWORD

GENERIC_FAILURE = 1  # an invalid origin has no exit code of its own (docs/cli.md)
USAGE = 2
ENTRY_NOT_FOUND = 6
IMPORT_FAILED = 7


# ---- item 4: random bytes are not taken for an encrypted backup ---------------------------------------


def test_importing_random_bytes_says_format_not_recognised_and_asks_no_password(cli, initialised, vault_path,
                                                                                tmp_path):
    random_file = tmp_path / "random.bin"
    random_file.write_bytes(b"\xff" + os.urandom(1535))
    before = vault_path.read_bytes()
    # Not even the vault password is read: stdin is empty, and a prompt for it would be a usage error (2).
    result = cli("import", str(random_file), "--password-stdin", stdin="")
    assert result.code == IMPORT_FAILED, result.err
    assert "format not recognised" in result.err and "password" not in result.err.lower()
    assert all(name in result.err for name in FORMATS)
    assert vault_path.read_bytes() == before


def test_an_old_andotp_backup_named_with_format_still_asks_for_its_password(cli, initialised, import_samples):
    old = import_samples / "andotp/andotp_encrypted_old.bin"
    result = cli("import", str(old), "--format", "andotp", "--password-stdin", stdin=f"{PASSWORD}\ntest\n")
    assert result.code == 0, result.err
    assert "Imported 6 entries" in result.out


# ---- item 6: --origin without a scheme -----------------------------------------------------------------


@pytest.mark.parametrize(("given_origin", "meant"), [
    ("localhost:8080", "http://localhost:8080"),
    ("example.com", "https://example.com"),
    ("127.0.0.1:8443", "http://127.0.0.1:8443"),
])
def test_an_origin_without_a_scheme_suggests_the_one_meant(cli, initialised, vault_path, given_origin, meant):
    before = vault_path.read_bytes()
    result = cli("add", JIRA_URI, "--origin", given_origin, "--password-stdin")
    assert result.code == GENERIC_FAILURE, result.err
    assert f"did you mean {meant}?" in result.err
    assert vault_path.read_bytes() == before


_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)


def _valid_or_none(text: str) -> str | None:
    try:
        return normalize_origin(text)
    except InvalidOrigin:
        return None


@settings(max_examples=200, deadline=None)
@given(labels=st.lists(_label, min_size=1, max_size=4), port=st.none() | st.integers(1, 65535))
def test_a_host_without_a_scheme_always_gets_a_valid_suggestion_when_one_exists(labels, port):
    bare = ".".join(labels) + (f":{port}" if port else "")
    with pytest.raises(InvalidOrigin) as info:
        normalize_origin(bare)
    candidates = {o for o in (_valid_or_none(f"https://{bare}"), _valid_or_none(f"http://{bare}")) if o}
    if not candidates:
        assert "did you mean" not in info.value.message
        return
    meant = info.value.message.split("did you mean ", 1)[1].split("? ", 1)[0]
    assert meant in candidates
    assert meant.startswith("https://") or labels[0] == "localhost" or labels[-1] == "localhost" or \
        meant.startswith("http://127.")


# ---- item 6: an unknown entry points to `vault list` ---------------------------------------------------


def test_code_for_an_unknown_entry_points_to_vault_list(cli, initialised):
    result = cli("code", "nosuchthing", "--password-stdin")
    assert result.code == ENTRY_NOT_FOUND
    assert "no entry has the id or name 'nosuchthing'" in result.err
    assert "tracker2fa vault list" in result.err


# ---- item 6: a weak master password is refused, with an override for scripts -----------------------------


@pytest.mark.parametrize("weak", ["x", "password123", "hunter2", "jira"])
def test_init_refuses_a_weak_password_and_creates_nothing(cli, vault_path, weak):
    result = cli("init", "--password-stdin", "--kdf-cost", "minimum", stdin=f"{weak}\n")
    assert result.code == USAGE, result.err
    assert "too easy to guess" in result.err and "--allow-weak-password" in result.err
    assert not vault_path.exists() and list(vault_path.parent.iterdir()) == []


def test_init_with_the_override_accepts_a_weak_password(cli, vault_path):
    result = cli("init", "--password-stdin", "--kdf-cost", "minimum", "--allow-weak-password", stdin="x\n")
    assert result.code == 0, result.err
    assert VaultFile(vault_path).unlock("x").entries() == []


def test_init_accepts_a_strong_password_without_the_override(cli, vault_path):
    assert cli("init", "--password-stdin", "--kdf-cost", "minimum", stdin=f"{NEW_PASSWORD}\n").code == 0
    assert VaultFile(vault_path).unlock(NEW_PASSWORD).entries() == []


def test_passwd_refuses_a_weak_new_password_and_changes_nothing(cli, initialised, vault_path):
    before = vault_path.read_bytes()
    result = cli("passwd", "--password-stdin", stdin=f"{PASSWORD}\n1234\n")
    assert result.code == USAGE, result.err
    assert "too easy to guess" in result.err
    assert vault_path.read_bytes() == before
    assert [e.issuer for e in VaultFile(vault_path).unlock(PASSWORD).entries()] == ["Jira"]


def test_passwd_with_the_override_accepts_a_weak_new_password(cli, initialised, vault_path):
    result = cli("passwd", "--password-stdin", "--allow-weak-password", stdin=f"{PASSWORD}\n1234\n")
    assert result.code == 0, result.err
    assert [e.issuer for e in VaultFile(vault_path).unlock("1234").entries()] == ["Jira"]


def test_the_strength_estimator_stays_off_the_host_and_the_reading_commands(initialised, vault_path):
    probe = (
        "import sys, io\n"
        "import native_host.host, native_host.api\n"
        "from native_host.cli import main\n"
        f"sys.stdin = io.StringIO({PASSWORD!r} + '\\n')\n"
        f"assert main(['vault', 'list', '--password-stdin', '--vault', {str(vault_path)!r}]) == 0\n"
        "print('zxcvbn' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr


# ---- item 6: every command has help text ---------------------------------------------------------------


def test_every_top_level_command_has_help_text_including_uninstall():
    from native_host.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: (choice.help or "").strip() for choice in sub._choices_actions}
    assert "uninstall" in helps
    assert {name: text for name, text in helps.items() if not text} == {}
