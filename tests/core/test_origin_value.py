"""The Origin value: parsed once where a request enters the host, carried inward to the vault."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import native_host.origins as origins
from native_host.errors import InvalidOrigin, OriginNotAllowed
from native_host.origins import Origin, normalize_origin

PASSWORD = "pw"
JIRA = "https://jira.example.com"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40).map(lambda t: "https://" + t))
def test_an_origin_value_is_what_normalize_origin_writes_or_invalid_origin(text):
    try:
        expected = normalize_origin(text)
    except InvalidOrigin:
        with pytest.raises(InvalidOrigin):
            Origin.parse(text)
        return
    assert str(Origin.parse(text)) == expected
    assert Origin.parse(Origin.parse(text)) == Origin.parse(text)  # an Origin passes through as it is


def test_null_is_invalid_unless_the_caller_accepts_opaque_origins():
    with pytest.raises(InvalidOrigin):
        Origin.parse("null")
    assert Origin.parse("null", allow_opaque=True).opaque


def test_an_opaque_origin_equals_nothing_not_even_itself():
    opaque = Origin.parse("null", allow_opaque=True)
    assert opaque != Origin.parse("null", allow_opaque=True)
    assert opaque != opaque


@pytest.fixture
def vault(tmp_path):
    from native_host.vault import VaultFile
    from native_host.vault.entry import Entry

    unlocked = VaultFile(tmp_path / "vault.json").create(PASSWORD, kdf_cost="minimum")
    entry = unlocked.add(Entry(secret=SECRET, issuer="Jira", origins=[JIRA]))
    yield unlocked, entry.id
    unlocked.lock()


def test_an_opaque_origin_gets_no_code_and_no_entries(vault):
    unlocked, entry_id = vault
    opaque = Origin.parse("null", allow_opaque=True)
    with pytest.raises(OriginNotAllowed):
        unlocked.code(entry_id, opaque)
    assert unlocked.entries_for_origin(opaque) == []
    with pytest.raises(InvalidOrigin):
        unlocked.bind_origin(entry_id, opaque)


def test_the_origin_of_a_vault_code_request_is_normalised_once(vault, monkeypatch, tmp_path):
    from native_host.api import Session
    from native_host.config import HostConfig

    _, entry_id = vault
    calls = []
    real = origins.normalize_origin
    monkeypatch.setattr(origins, "normalize_origin", lambda value: calls.append(value) or real(value))
    session = Session(HostConfig(), lambda event: None, vault_path=tmp_path / "vault.json")
    session.call("vault.unlock", {"password": PASSWORD}, threading.Event())
    calls.clear()
    result = session.call("vault.code", {"id": entry_id, "origin": JIRA + "/login?x=1"}, threading.Event())
    session.close()
    assert result["code"].isdigit()
    assert calls == [JIRA + "/login?x=1"]
