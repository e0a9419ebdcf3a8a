"""The security-key bridge's pure modules under Node: the WebAuthn JSON conversions (common/webauthn_json.js),
the channel's message validation on both sides (common/fido_channel.js, common/fido_reply.js) and the
service worker's rules (background/fido.js). Property tests with many random inputs; no browser."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .node_harness import Node, node_running

HARNESS = Path(__file__).with_name("fido_js_harness.mjs")
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    yield from node_running(HARNESS)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


blobs = st.binary(min_size=1, max_size=80)
SAFE_INTS = st.integers(-(2**53) + 1, 2**53 - 1)  # JSON numbers JavaScript holds exactly
ids = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=16, max_size=64)


# ---- base64url ----


@PROPERTY
@given(data=st.binary(max_size=200))
def test_base64url_matches_python_and_decodes_back(node: Node, data: bytes) -> None:
    text = node("toB64url", list(data))
    assert text == b64url(data)
    assert node("fromB64url", text) == {"ok": list(data)}


@PROPERTY
@given(text=st.text(max_size=40))
def test_base64url_decoding_accepts_only_canonical_text(node: Node, text: str) -> None:
    got = node("fromB64url", text)
    if "ok" in got:
        assert b64url(bytes(got["ok"])) == text.rstrip("=")
    else:
        assert got["refused"] == "TypeError"


# ---- options: a page's objects <-> the JSON the host takes ----


@st.composite
def creation_options(draw: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "rp": {"id": "jira.example.com", "name": draw(st.text(max_size=20))},
        "user": {"id": b64url(draw(st.binary(min_size=1, max_size=64))), "name": "alice", "displayName": "Alice"},
        "challenge": b64url(draw(blobs)),
        "pubKeyCredParams": [{"type": "public-key", "alg": draw(st.sampled_from([-7, -8, -257]))}],
    }
    if draw(st.booleans()):
        options["timeout"] = draw(st.integers(0, 600000))
    if draw(st.booleans()):
        options["excludeCredentials"] = [
            {"type": "public-key", "id": b64url(b), "transports": ["usb", "nfc"]}
            for b in draw(st.lists(blobs, max_size=4))
        ]
    if draw(st.booleans()):
        options["authenticatorSelection"] = {"userVerification": "preferred", "residentKey": "discouraged"}
    if draw(st.booleans()):
        options["extensions"] = {"credProps": True, "prf": {"eval": {"first": b64url(draw(blobs))}}}
    return options


@st.composite
def request_options(draw: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"challenge": b64url(draw(blobs))}
    if draw(st.booleans()):
        options["rpId"] = "example.com"
    if draw(st.booleans()):
        options["allowCredentials"] = [
            {"type": "public-key", "id": b64url(b)} for b in draw(st.lists(blobs, max_size=4))
        ]
    if draw(st.booleans()):
        options["userVerification"] = draw(st.sampled_from(["required", "preferred", "discouraged"]))
    if draw(st.booleans()):
        options["extensions"] = {
            "appid": "https://example.com/app.json",
            "prf": {"eval": {"first": b64url(draw(blobs)), "second": b64url(draw(blobs))}},
        }
    return options


CREATION_BINARY = [["challenge"], ["user", "id"], ["extensions", "prf", "eval", "first"]]
REQUEST_BINARY = [["challenge"], ["extensions", "prf", "eval", "first"], ["extensions", "prf", "eval", "second"]]


def with_binary_ids(options: dict[str, Any], key: str) -> list[list[Any]]:
    return [[key, i, "id"] for i in range(len(options.get(key, [])))]


@PROPERTY
@given(options=creation_options())
def test_page_creation_options_become_the_json_form(node: Node, options: dict[str, Any]) -> None:
    paths = CREATION_BINARY + with_binary_ids(options, "excludeCredentials")
    assert node("creationToJSON", options, paths) == {"ok": options}
    assert node("creationRoundTrip", options) == {"ok": options}  # parseCreationOptionsFromJSON, then back


@PROPERTY
@given(options=request_options())
def test_page_request_options_become_the_json_form(node: Node, options: dict[str, Any]) -> None:
    paths = REQUEST_BINARY + with_binary_ids(options, "allowCredentials")
    assert node("requestToJSON", options, paths) == {"ok": options}
    assert node("requestRoundTrip", options) == {"ok": options}


def test_options_with_a_challenge_that_is_not_binary_are_a_type_error(node: Node) -> None:
    got = node("requestToJSON", {"challenge": "not-a-buffer"}, [])
    assert got["refused"] == "TypeError" and "challenge" in got["message"]


# ---- responses: the host's JSON -> the PublicKeyCredential a page gets ----


@st.composite
def registration(draw: Any) -> dict[str, Any]:
    raw = draw(blobs)
    out: dict[str, Any] = {
        "id": b64url(raw),
        "rawId": b64url(raw),
        "type": "public-key",
        "response": {
            "clientDataJSON": b64url(draw(blobs)),
            "attestationObject": b64url(draw(blobs)),
            "transports": draw(st.lists(st.sampled_from(["usb", "nfc", "ble"]), max_size=3, unique=True)),
        },
        "clientExtensionResults": draw(st.sampled_from([{}, {"credProps": {"rk": False}}])),
        "authenticatorAttachment": "cross-platform",
    }
    return out


@st.composite
def assertion(draw: Any) -> dict[str, Any]:
    raw = draw(blobs)
    response = {
        "clientDataJSON": b64url(draw(blobs)),
        "authenticatorData": b64url(draw(blobs)),
        "signature": b64url(draw(blobs)),
    }
    if draw(st.booleans()):
        response["userHandle"] = b64url(draw(blobs))
    extensions: dict[str, Any] = {"appid": draw(st.booleans())}
    if draw(st.booleans()):
        extensions["prf"] = {"results": {"first": b64url(draw(blobs))}}
    return {
        "id": b64url(raw),
        "rawId": b64url(raw),
        "type": "public-key",
        "response": response,
        "clientExtensionResults": extensions,
        "authenticatorAttachment": "cross-platform",
    }


def unb64(text: str) -> list[int]:
    return list(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


@PROPERTY
@given(json_form=registration())
def test_registration_response_becomes_a_credential_with_array_buffers(node: Node, json_form: dict[str, Any]) -> None:
    got = node("credential", json_form, "create")["ok"]
    assert got["rawIdIsArrayBuffer"] is True
    assert got["rawId"] == unb64(json_form["id"])
    assert got["clientDataJSON"] == unb64(json_form["response"]["clientDataJSON"])
    assert got["attestationObject"] == unb64(json_form["response"]["attestationObject"])
    assert got["transports"] == json_form["response"]["transports"]
    assert got["toJSON"] == json_form
    assert got["reencoded"] == json_form  # the page's own encoder (mock.js style) gives the host's JSON back
    assert_like_a_platform_object(got)


def assert_like_a_platform_object(got: dict[str, Any]) -> None:
    """As Chromium's own credentials: no own properties, the interface's prototype, [SameObject] buffers,
    and structured cloning refused."""
    assert got["ownKeys"] == [] and got["responseOwnKeys"] == []
    assert got["isPublicKeyCredential"] is True and got["sameRawId"] is True
    assert got["cloneRefused"] == "DataCloneError"


@PROPERTY
@given(json_form=assertion())
def test_authentication_response_becomes_a_credential_with_array_buffers(node: Node, json_form: dict[str, Any]) -> None:
    got = node("credential", json_form, "get")["ok"]
    r = json_form["response"]
    assert got["authenticatorData"] == unb64(r["authenticatorData"])
    assert got["signature"] == unb64(r["signature"])
    assert got["userHandle"] == (unb64(r["userHandle"]) if "userHandle" in r else None)
    assert got["extensions"]["appid"] == json_form["clientExtensionResults"]["appid"]
    if "prf" in json_form["clientExtensionResults"]:
        assert got["extensions"]["prf"]["results"]["first"] == unb64(
            json_form["clientExtensionResults"]["prf"]["results"]["first"]
        )
    assert got["toJSON"] == json_form
    assert got["reencoded"] == json_form
    assert_like_a_platform_object(got)


def test_a_real_registration_gives_its_authenticator_data_and_public_key(node: Node) -> None:
    """The product's software key registers through the host's ceremony; the page's getters read what
    python-fido2 reads from the same attestation object."""
    from fido2.webauthn import AttestationObject

    from tests.support.host_key import HostKey

    options = {
        "rp": {"id": "localhost", "name": "Jibra"},
        "user": {"id": b64url(b"alice"), "name": "alice", "displayName": "Alice"},
        "challenge": b64url(b"a registration challenge 0123456"),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
    }
    registration = HostKey().create("http://localhost:8080", options)
    got = node("credential", registration, "create")["ok"]
    attestation = AttestationObject(bytes(unb64(registration["response"]["attestationObject"])))
    key = attestation.auth_data.credential_data.public_key
    assert got["authenticatorData"] == list(bytes(attestation.auth_data))
    assert got["publicKeyAlgorithm"] == key[3] == -7
    assert got["publicKey"] == list(spki_of(key))
    assert got["toJSON"] == registration


def spki_of(cose_key: Any) -> bytes:
    """The SubjectPublicKeyInfo DER of a COSE P-256 key, by cryptography."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(cose_key[-2], "big"), int.from_bytes(cose_key[-3], "big"), ec.SECP256R1()
    )
    return numbers.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize(
    "damage",
    [
        lambda c: c.update(type="password"),
        lambda c: c.update(id="not base64url!"),
        lambda c: c.update(rawId="AAAA"),
        lambda c: c["response"].update(signature=7),
        lambda c: c["response"].pop("authenticatorData"),
        lambda c: c.update(clientExtensionResults=[]),
    ],
)
def test_a_malformed_response_is_refused_not_half_built(node: Node, damage: Any) -> None:
    credential = {
        "id": "AAEC",
        "rawId": "AAEC",
        "type": "public-key",
        "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"},
    }
    damage(credential)
    assert node("credential", credential, "get")["refused"] == "TypeError"


# ---- the channel: the content script accepts exactly the page's request shapes ----


@st.composite
def page_messages(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["webauthn.create", "webauthn.get", "u2f.register", "u2f.sign", "abort"]))
    msg: dict[str, Any] = {"type": kind, "id": draw(ids)}
    if kind == "webauthn.create":
        msg["options"] = draw(creation_options())
    elif kind == "webauthn.get":
        msg["options"] = draw(request_options())
    elif kind == "u2f.register":
        msg.update(
            appId="https://jira.example.com",
            registerRequests=[{"version": "U2F_V2", "challenge": b64url(draw(blobs))}],
            registeredKeys=[{"version": "U2F_V2", "keyHandle": b64url(draw(blobs))}],
        )
    elif kind == "u2f.sign":
        msg.update(
            challenge=b64url(draw(blobs)), registeredKeys=[{"version": "U2F_V2", "keyHandle": b64url(draw(blobs))}]
        )
    return msg


@PROPERTY
@given(msg=page_messages())
def test_every_well_formed_page_message_is_accepted_as_sent(node: Node, msg: dict[str, Any]) -> None:
    assert node("parsePageMessage", json.dumps(msg)) == {"ok": msg}


@PROPERTY
@given(msg=page_messages(), key=st.text(min_size=1, max_size=10), value=st.integers())
def test_a_page_message_with_any_extra_field_is_refused(node: Node, msg: dict[str, Any], key: str, value: int) -> None:
    if key in msg:
        return
    got = node("parsePageMessage", json.dumps({**msg, key: value}))
    assert got["refused"] == "ChannelError" and "unexpected field" in got["message"]


@PROPERTY
@given(
    msg=page_messages(),
    field=st.sampled_from(["id", "type"]),
    value=st.one_of(st.none(), st.integers(), st.text(max_size=15)),
)
def test_a_page_message_with_a_bad_id_or_type_is_refused(
    node: Node, msg: dict[str, Any], field: str, value: Any
) -> None:
    forged = {**msg, field: value}
    if forged == msg or (
        field == "type" and value in ("webauthn.create", "webauthn.get", "u2f.register", "u2f.sign", "abort")
    ):
        return
    if (
        field == "id"
        and isinstance(value, str)
        and 16 <= len(value) <= 64
        and all(c.isalnum() or c in "-_" for c in value)
    ):
        return
    assert "refused" in node("parsePageMessage", json.dumps(forged))


@PROPERTY
@given(
    text=st.one_of(st.text(max_size=60), st.from_regex(r'\{"type": ?"[a-z.]{0,20}", ?"id": ?"[A-Za-z0-9_-]{0,70}"\}'))
)
def test_random_text_is_never_a_page_request(node: Node, text: str) -> None:
    got = node("parsePageMessage", text)
    # Only an abort with a well-formed id can come out of such text: it carries nothing.
    assert "refused" in got or got["ok"]["type"] == "abort"


def test_a_page_message_that_is_not_a_string_or_too_large_is_refused(node: Node) -> None:
    big = json.dumps({"type": "abort", "id": "a" * 20, "pad": "x" * 300000})
    assert "too large" in node("parsePageMessage", big)["message"]
    assert node("parsePageMessage", None)["refused"] == "ChannelError"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("challenge", "not base64url!", "challenge"),
        ("allowCredentials", [{"id": "???"}], "allowCredentials"),
        ("allowCredentials", [{"id": "AAAA", "type": "password"}], "public-key"),
        ("rpId", 7, "rpId"),
    ],
)
def test_a_get_request_with_bad_options_is_refused_naming_the_field(
    node: Node, field: str, value: Any, reason: str
) -> None:
    msg = {"type": "webauthn.get", "id": "a" * 20, "options": {"challenge": "AAAA", field: value}}
    got = node("parsePageMessage", json.dumps(msg))
    assert got["refused"] == "ChannelError" and reason in got["message"]


# ---- the channel: the page side accepts exactly the content script's reply shapes ----


@PROPERTY
@given(
    reply=st.one_of(
        st.builds(
            lambda i, r: {"type": "result", "id": i, "result": r},
            ids,
            st.dictionaries(st.text(max_size=5), SAFE_INTS, max_size=3),
        ),
        st.builds(
            lambda i, n, m: {"type": "error", "id": i, "name": n, "message": m},
            ids,
            st.sampled_from(["NotAllowedError", "InvalidStateError", "AbortError", "SecurityError"]),
            st.text(max_size=40),
        ),
        st.builds(lambda i: {"type": "fallback", "id": i}, ids),
    )
)
def test_every_well_formed_reply_is_accepted_as_sent(node: Node, reply: dict[str, Any]) -> None:
    assert node("parseBridgeReply", json.dumps(reply)) == {"ok": reply}


@PROPERTY
@given(name=st.text(max_size=30), text=st.text(max_size=60))
def test_a_reply_naming_an_unknown_error_or_random_text_is_refused(node: Node, name: str, text: str) -> None:
    known = {
        "NotAllowedError",
        "InvalidStateError",
        "AbortError",
        "SecurityError",
        "TypeError",
        "NotSupportedError",
        "UnknownError",
    }
    if name not in known:
        assert "refused" in node(
            "parseBridgeReply", json.dumps({"type": "error", "id": "a" * 20, "name": name, "message": ""})
        )
    assert "refused" in node("parseBridgeReply", text)


# ---- the service worker's rules ----


@PROPERTY
@given(
    labels=st.lists(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True), min_size=2, max_size=5), cut=st.integers(0, 4)
)
def test_rp_id_may_be_the_host_or_a_parent_domain_only(node: Node, labels: list[str], cut: int) -> None:
    host = ".".join(labels)
    origin = f"https://{host}"
    parent = ".".join(labels[min(cut, len(labels) - 1) :])
    assert node("rpIdPlausible", origin, parent) is True
    assert node("rpIdPlausible", origin, f"x{parent}") is (f"x{parent}" == host or host.endswith(f".x{parent}"))
    assert node("rpIdPlausible", origin, f"{host}.evil.test") is False
    assert node("rpIdPlausible", f"https://evil{host}", host) is False  # a suffix of the text, not a parent domain
    assert node("rpIdPlausible", origin, f".{parent}") is False


def test_host_errors_reach_the_page_as_their_dom_exception(node: Node) -> None:
    assert (
        node("pageError", {"code": "fido_security_error", "domName": "SecurityError", "message": "no"})["name"]
        == "SecurityError"
    )
    # Without dom_name (an older host), the code decides; an unknown name from the host is never passed on.
    assert node("pageError", {"code": "fido_credential_excluded"}) == {
        "name": "InvalidStateError",
        "message": "The security key request failed.",
        "u2fErrorCode": 4,
    }
    assert node("pageError", {"code": "fido_cancelled", "domName": "EvilError"})["name"] == "AbortError"
    assert node("pageError", {"code": "host_not_installed", "message": "m"})["name"] == "NotAllowedError"


def test_bridge_scripts_are_registered_per_host_in_both_worlds(node: Node) -> None:
    assert node("bridgeScripts", []) == []
    registered = node("bridgeScripts", ["http://localhost:8080", "https://jira.example.com", "http://localhost:9"])
    assert [s["world"] for s in registered] == ["MAIN", "ISOLATED"]
    assert registered[0]["matches"] == ["http://localhost/*", "https://jira.example.com/*"]
    assert all(s["runAt"] == "document_start" for s in registered)
    # A file is injected once per frame whatever the registrations say: no file is listed in both worlds.
    assert not set(registered[0]["js"]) & set(registered[1]["js"])


def test_a_missing_user_handle_is_left_out_of_to_json_not_null(node: Node) -> None:
    # The appid path answers "userHandle": null; Chromium's toJSON() leaves the member out.
    credential = {
        "id": "AAEC",
        "rawId": "AAEC",
        "type": "public-key",
        "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA", "userHandle": None},
        "clientExtensionResults": {"appid": True},
    }
    got = node("credential", credential, "get")["ok"]
    assert got["userHandle"] is None
    assert "userHandle" not in got["toJSON"]["response"]


VIRTUAL = {"id": "virtual:/k", "name": "tracker2fa virtual key", "transport": "virtual", "virtual": True}
USB = {"id": "usb:/dev/hidraw0", "name": "YubiKey 5", "transport": "usb", "virtual": False}


@pytest.mark.parametrize(
    ("listing", "by_itself"),
    [
        ({"keys": [VIRTUAL], "autoConfirm": True}, True),
        ({"keys": [VIRTUAL], "autoConfirm": False}, False),
        ({"keys": [VIRTUAL]}, False),
        ({"keys": [VIRTUAL, USB], "autoConfirm": True}, False),  # a real key is there: the user is asked
        ({"keys": [USB], "autoConfirm": True}, False),
        ({"keys": [{**VIRTUAL, "virtual": "yes"}], "autoConfirm": True}, False),
        ({"keys": [], "autoConfirm": True}, False),
        ({"autoConfirm": True}, False),
        ({"keys": [VIRTUAL], "autoConfirm": "true"}, False),
    ],
)
def test_only_a_lone_virtual_key_switched_on_confirms_by_itself(node: Node, listing: dict, by_itself: bool) -> None:
    assert node("confirmsByItself", listing) is by_itself
