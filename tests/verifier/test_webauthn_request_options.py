"""The assertion request options the verifier writes itself equal python-fido2's, byte for byte in JSON."""

from __future__ import annotations

import base64
import json

from fido2.server import Fido2Server
from fido2.webauthn import PublicKeyCredentialDescriptor, PublicKeyCredentialRpEntity, PublicKeyCredentialType
from hypothesis import given
from hypothesis import strategies as st

from verifier.service.webauthn import request_options

RP = PublicKeyCredentialRpEntity(name="Test", id="localhost")


def _websafe(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


@given(credential_ids=st.lists(st.binary(min_size=16, max_size=128), min_size=1, max_size=5),
       user_verification=st.sampled_from(["discouraged", "preferred", "required"]),
       extensions=st.sampled_from([None, {"appid": "https://localhost:8000/u2f-appid.json"}]),
       challenge=st.binary(min_size=16, max_size=64))
def test_request_options_and_state_match_fido2_server(credential_ids, user_verification, extensions,
                                                       challenge) -> None:
    descriptors = [PublicKeyCredentialDescriptor(type=PublicKeyCredentialType.PUBLIC_KEY, id=cid)
                   for cid in credential_ids]
    theirs, their_state = Fido2Server(RP).authenticate_begin(
        descriptors, user_verification=user_verification, challenge=challenge, extensions=extensions)

    ours, our_state = request_options("localhost", [_websafe(cid) for cid in credential_ids], user_verification,
                                      extensions, challenge=challenge)

    assert json.dumps(ours, sort_keys=True) == json.dumps(dict(theirs), sort_keys=True)
    assert json.dumps(our_state, sort_keys=True) == json.dumps(dict(their_state), sort_keys=True)


def test_each_request_has_a_fresh_challenge() -> None:
    first, _ = request_options("localhost", ["AAAA"], "discouraged", None)
    second, _ = request_options("localhost", ["AAAA"], "discouraged", None)
    assert first["publicKey"]["challenge"] != second["publicKey"]["challenge"]
