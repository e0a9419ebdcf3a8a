"""``parse_assertion`` gives python-fido2's own ``AuthenticationResponse``: equal to ``from_dict``'s for real
assertions of the host's software key, never one that ``from_dict`` would refuse or read differently
(hypothesis, from mutations of real assertions); it is stricter only where the JSON is not WebAuthn JSON."""

from __future__ import annotations

import copy
from typing import Any

from fido2.server import Fido2Server
from fido2.webauthn import AuthenticationResponse, PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.host_key import HostKey
from verifier.core.webauthn import parse_assertion

ORIGIN = "http://localhost"


def _real_assertions() -> list[dict[str, Any]]:
    server = Fido2Server(PublicKeyCredentialRpEntity(id="localhost", name="test"))
    answers = []
    for key in (HostKey(), HostKey(ctap2=False)):
        options, state = server.register_begin(
            PublicKeyCredentialUserEntity(name="alice", id=b"alice-handle", display_name="Alice"), [])
        auth_data = server.register_complete(state, key.create(ORIGIN, dict(options)))
        options, _state = server.authenticate_begin([auth_data.credential_data])
        answers.append(key.get(ORIGIN, dict(options)))
    return answers


REAL = _real_assertions()
# Numbers stay small: python-fido2's from_dict turns a number where bytes belong into bytes(number), so the
# comparison below must never hand it a large one (parse_assertion refuses those: tested on its own).
json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**16, 2**16) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                        max_size=3), max_leaves=6)
b64ish = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ ", max_size=60)
TOP = ["id", "rawId", "response", "type", "authenticatorAttachment", "clientExtensionResults"]
INNER = ["clientDataJSON", "authenticatorData", "signature", "userHandle"]


@st.composite
def mutated(draw) -> Any:
    data = copy.deepcopy(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.integers(0, 3))):
        inner = draw(st.booleans()) and isinstance(data.get("response"), dict)
        target = data["response"] if inner else data
        name = draw(st.sampled_from(INNER if inner else TOP) | st.text(max_size=6))
        action = draw(st.sampled_from(["drop", "value", "b64", "swap"]))
        if action == "drop":
            target.pop(name, None)
        elif action == "value":
            target[name] = draw(json_values)
        elif action == "b64":
            target[name] = draw(b64ish)
        else:
            other = draw(st.sampled_from(REAL))
            source = other["response"] if inner else other
            if name in source:
                target[name] = copy.deepcopy(source[name])
    return data if draw(st.integers(0, 20)) else draw(json_values)


def outcome(parse, data: Any) -> tuple[str, str]:
    """("parsed", the response) or ("refused", ""); ``from_dict(None)`` answers None, which is no response."""
    try:
        parsed = parse(copy.deepcopy(data))
    except Exception:
        return ("refused", "")
    return ("parsed", repr(parsed)) if isinstance(parsed, AuthenticationResponse) else ("refused", "")


def test_real_assertions_parse_to_what_from_dict_gives() -> None:
    for data in REAL:
        assert parse_assertion(data) == AuthenticationResponse.from_dict(data)
        assert dict(parse_assertion(data)) == dict(AuthenticationResponse.from_dict(data))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_what_it_parses_from_dict_parses_the_same_and_what_from_dict_refuses_it_refuses(data: Any) -> None:
    ours, fido2s = outcome(parse_assertion, data), outcome(AuthenticationResponse.from_dict, data)
    assert ours == fido2s or ours == ("refused", "")


def test_binary_members_that_are_not_base64url_text_are_refused() -> None:
    data = copy.deepcopy(REAL[0])
    data["response"]["signature"] = [48, 69]  # from_dict would take a list of byte values
    assert outcome(parse_assertion, data) == ("refused", "")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(REAL), st.sampled_from(["authenticatorAttachment", "clientExtensionResults", "type"]),
       json_values)
def test_the_optional_members_are_read_by_fido2_itself(data: Any, name: str, value: Any) -> None:
    data = {**copy.deepcopy(data), name: value}
    assert outcome(parse_assertion, data) == outcome(AuthenticationResponse.from_dict, data)


def test_a_huge_number_anywhere_is_refused_before_python_fido2_sees_it() -> None:
    for path in (("response", "signature"), ("rawId",), ("clientExtensionResults", "x")):
        data = copy.deepcopy(REAL[0])
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = 10**12  # from_dict would ask for 10**12 bytes
        try:
            parse_assertion(data)
        except ValueError as exc:
            assert "out of range" in str(exc)
        else:
            raise AssertionError(f"{path} = 10**12 was parsed")
