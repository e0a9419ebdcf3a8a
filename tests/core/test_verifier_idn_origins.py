"""The verifier's WebAuthn origin check writes configured IDN origins as browsers do (UTS-46, non-transitional).

A real ceremony: the host's WebAuthn ceremony with its software key, for the origin a browser on
``https://straße.example`` reports (its clientDataJSON origin is ``https://xn--strae-oqa.example``).
"""

from __future__ import annotations

import secrets

import pytest

from tests.support.host_key import HostKey
from verifier.core.webauthn import canonical_origin

BROWSER_ORIGIN = "https://xn--strae-oqa.example"  # what Chromium writes for https://straße.example
IP, UA = "198.51.100.7", "pytest"


@pytest.fixture
def idn_verifier(tmp_path):
    from verifier.core.backup import HashParams
    from verifier.service import Verifier, VerifierSettings
    from verifier.store import open_store

    settings = VerifierSettings(
        rp_id="xn--strae-oqa.example", rp_name="Test", origins=("https://Straße.example/",),
        server_key=secrets.token_bytes(32), backup_hash=HashParams(n=2**10), password_hash=HashParams(n=2**10),
    )
    store = open_store(f"sqlite:///{tmp_path / 'verifier.db'}")
    yield Verifier(store, settings)
    store.close()


@pytest.mark.parametrize(
    ("configured", "canonical"),
    [
        ("https://straße.example", "https://xn--strae-oqa.example"),
        ("https://ΣΟΦΊΑ.example/", "https://xn--kxae4bpq.example"),
        ("https://Jira.Example.com:443", "https://jira.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
    ],
)
def test_a_configured_origin_is_written_as_the_browser_writes_it(configured, canonical):
    assert canonical_origin(configured) == canonical


def test_a_key_registers_and_signs_in_on_an_idn_origin_configured_in_unicode(idn_verifier):
    key = HostKey()
    idn_verifier.create_user("alice")
    options, state_id = idn_verifier.webauthn_register_begin("alice", BROWSER_ORIGIN)
    response = key.create(BROWSER_ORIGIN, options)
    idn_verifier.webauthn_register_complete("alice", state_id, response, "Key")
    options, state_id = idn_verifier.webauthn_authenticate_begin("alice", BROWSER_ORIGIN)
    result = idn_verifier.webauthn_authenticate_complete("alice", state_id, key.get(BROWSER_ORIGIN, options), IP, UA)
    assert result.ok


def test_the_idna_2003_spelling_of_the_configured_origin_is_refused(idn_verifier):
    from verifier.service import WebAuthnRejected  # whichever module defines it, the service raises this one

    idn_verifier.create_user("alice")
    with pytest.raises(WebAuthnRejected, match="not served"):
        idn_verifier.webauthn_register_begin("alice", "https://strasse.example")
