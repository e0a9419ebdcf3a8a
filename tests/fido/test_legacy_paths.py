"""U2F-only keys under WebAuthn (python-fido2's CTAP1 fallback) and U2F key handles under the appid
extension, over each transport's framing, verified by python-fido2's server."""

from __future__ import annotations

import hashlib

import pytest
from fido2.ctap1 import Ctap1
from fido2.server import Fido2Server
from fido2.utils import websafe_encode
from fido2.webauthn import AttestedCredentialData

from native_host.fido.ceremonies import webauthn
from native_host.fido.errors import NoCredential, OriginRefused
from tests.fido.helpers import ORIGIN

APP_ID = "https://jira.example.com/u2f-app-id.json"
USER = {"id": b"user-1", "name": "alice"}


def test_u2f_only_key_registers_and_authenticates_through_ctap1(make_key, server):
    key, _auth = make_key(ctap2=False)
    assert "fido2" not in key.capabilities
    options, state = server.register_begin(USER)
    credential = server.register_complete(state, webauthn.create(ORIGIN, dict(options.public_key), [key]))
    options, state = server.authenticate_begin([credential.credential_data])
    assertion = webauthn.get(ORIGIN, dict(options.public_key), [key])
    server.authenticate_complete(state, [credential.credential_data], assertion)


def _u2f_registration(key) -> AttestedCredentialData:
    """A registration made years ago by ``u2f.register`` under APP_ID."""
    registration = Ctap1(key.device()).register(b"\x01" * 32, hashlib.sha256(APP_ID.encode()).digest())
    return AttestedCredentialData.from_ctap1(registration.key_handle, registration.public_key)


@pytest.mark.parametrize("ctap2", [True, False], ids=["fido2-key", "u2f-only-key"])
def test_u2f_key_handle_signs_under_the_appid_extension(make_key, ctap2):
    key, _auth = make_key(ctap2=ctap2)
    credential = _u2f_registration(key)
    # The relying party checks such assertions against SHA-256(appid) (reference/fido.md, pitfall 3).
    appid_server = Fido2Server({"id": APP_ID, "name": "legacy"}, verify_origin=lambda origin: origin == ORIGIN)
    options, state = Fido2Server({"id": "example.com", "name": "Jira"}).authenticate_begin([credential])
    request = dict(options.public_key) | {"extensions": {"appid": APP_ID}}
    state_for_appid = dict(state)
    assertion = webauthn.get(ORIGIN, request, [key])
    assert assertion["clientExtensionResults"]["appid"] is True
    appid_server.authenticate_complete(state_for_appid, [credential], assertion)


def test_appid_of_another_site_is_refused(make_key):
    key, _auth = make_key()
    credential = _u2f_registration(key)
    options, _ = Fido2Server({"id": "example.com", "name": "Jira"}).authenticate_begin([credential])
    request = dict(options.public_key) | {"extensions": {"appid": "https://evil.test/app-id.json"}}
    with pytest.raises(OriginRefused, match="not on the same site"):
        webauthn.get(ORIGIN, request, [key])


def test_without_appid_a_u2f_key_handle_is_not_found(make_key):
    key, _auth = make_key()
    credential = _u2f_registration(key)
    options, _ = Fido2Server({"id": "example.com", "name": "Jira"}).authenticate_begin([credential])
    with pytest.raises(NoCredential):
        webauthn.get(ORIGIN, dict(options.public_key), [key])


def test_appid_result_is_false_when_the_rp_id_credential_answered(make_key, server):
    key, _auth = make_key()
    options, state = server.register_begin(USER)
    credential = server.register_complete(state, webauthn.create(ORIGIN, dict(options.public_key), [key]))
    options, state = server.authenticate_begin([credential.credential_data])
    request = dict(options.public_key) | {"extensions": {"appid": APP_ID}}
    assertion = webauthn.get(ORIGIN, request, [key])
    assert assertion["clientExtensionResults"]["appid"] is False
    server.authenticate_complete(state, [credential.credential_data], assertion)
    assert websafe_encode(credential.credential_data.credential_id) == assertion["id"]
