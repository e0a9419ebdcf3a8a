"""WebAuthn through the Verifier, end to end: the host's ceremonies (native_host.fido) with its software key
produce the WebAuthn JSON the verifier checks."""

from __future__ import annotations

import threading

import pytest
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import PublicKeyCredentialRequestOptions

from native_host.fido.ceremonies import webauthn
from native_host.fido.ceremonies.interaction import no_events
from tests.support.host_key import HostKey
from verifier.service import CredentialNotFound, Verifier, WebAuthnRejected  # whichever module defines them

from .conftest import fast_settings

ORIGIN = "http://localhost:8000"
APPID = "https://localhost:8000/u2f-appid.json"
IP, UA = "198.51.100.7", "pytest"


def register(verifier: Verifier, key: HostKey, username: str = "alice", name: str = "Key"):
    if verifier.store.get_user(username) is None:
        verifier.create_user(username)
    options, state_id = verifier.webauthn_register_begin(username, ORIGIN)
    return verifier.webauthn_register_complete(username, state_id, key.create(ORIGIN, options), name)


def assertion(verifier: Verifier, key: HostKey, username: str = "alice", origin: str = ORIGIN) -> tuple[str, dict]:
    options, state_id = verifier.webauthn_authenticate_begin(username, ORIGIN)
    return state_id, key.get(origin, options)


@pytest.fixture
def key() -> HostKey:
    return HostKey()


def test_a_registered_key_authenticates(verifier, key):
    register(verifier, key)
    state_id, response = assertion(verifier, key)
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).ok


def test_the_sign_counter_is_persisted(verifier, key):
    register(verifier, key)
    state_id, response = assertion(verifier, key)
    verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA)
    assert verifier.list_credentials("alice")[0]["sign_count"] == key.store.counter


def test_a_counter_regression_is_refused_as_a_possible_clone(verifier, key):
    register(verifier, key)
    state_id, response = assertion(verifier, key)
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).ok
    stored = verifier.list_credentials("alice")[0]["sign_count"]
    key.store.counter = 0  # a clone made before the last use
    state_id, response = assertion(verifier, key)
    result = verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA)
    assert result.reason == "counter_regression"
    assert verifier.list_credentials("alice")[0]["sign_count"] == stored
    assert any("clone" in (e["detail"] or "") for e in verifier.audit(username="alice", event="verify"))


# How a clone's counter relates to the count the verifier stored: the clone answers with that count.
CLONED_COUNTERS = {"equal": lambda stored: stored, "lower": lambda stored: stored - 1, "zero": lambda stored: 0}


@pytest.mark.parametrize("clone", CLONED_COUNTERS)
def test_a_counter_not_above_the_stored_non_zero_one_is_refused_as_a_possible_clone(verifier, key, clone):
    register(verifier, key)
    state_id, response = assertion(verifier, key)
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).ok
    stored = verifier.list_credentials("alice")[0]["sign_count"]
    assert stored > 1
    presented = CLONED_COUNTERS[clone](stored)
    key.store.next_counter = lambda: presented  # the clone signs with this count
    state_id, response = assertion(verifier, key)
    result = verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA)
    assert (result.ok, result.reason) == (False, "counter_regression"), f"counter {presented} after {stored}"
    assert verifier.list_credentials("alice")[0]["sign_count"] == stored


def test_a_challenge_works_only_once(verifier, key):
    register(verifier, key)
    state_id, response = assertion(verifier, key)
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).ok
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).reason == "expired"


def test_a_challenge_expires(verifier, key, clock):
    register(verifier, key)
    state_id, response = assertion(verifier, key)
    clock.advance(verifier.settings.challenge_ttl + 1)
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).reason == "expired"


def test_another_users_challenge_is_refused_and_spent(verifier, key):
    register(verifier, key, "alice")
    register(verifier, HostKey(), "bob")
    state_id, response = assertion(verifier, key, "alice")
    assert verifier.webauthn_authenticate_complete("bob", state_id, response, IP, UA).reason == "expired"
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).reason == "expired"


def test_an_assertion_made_for_another_origin_is_refused(verifier, key):
    register(verifier, key)
    state_id, response = assertion(verifier, key, origin="http://evil.localhost:8000")
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).reason == "invalid"


def test_a_tampered_signature_is_refused(verifier, key):
    register(verifier, key)
    state_id, response = assertion(verifier, key)
    signature = bytearray(websafe_decode(response["response"]["signature"]))
    signature[-1] ^= 1
    response["response"]["signature"] = websafe_encode(bytes(signature))
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).reason == "invalid"


@pytest.mark.parametrize("garbage", [{}, {"id": "x"}, {"response": "nope"}, {"id": 5, "rawId": [], "type": 1}])
def test_a_malformed_response_is_invalid_and_changes_nothing(verifier, key, garbage):
    register(verifier, key)
    _options, state_id = verifier.webauthn_authenticate_begin("alice", ORIGIN)
    assert verifier.webauthn_authenticate_complete("alice", state_id, garbage, IP, UA).reason == "invalid"
    assert verifier.list_credentials("alice")[0]["sign_count"] == 1


def test_begin_refuses_an_origin_the_verifier_does_not_serve(verifier):
    verifier.create_user("alice")
    with pytest.raises(WebAuthnRejected):
        verifier.webauthn_register_begin("alice", "https://evil.example")


def test_a_registration_with_a_reused_state_is_refused(verifier, key):
    verifier.create_user("alice")
    options, state_id = verifier.webauthn_register_begin("alice", ORIGIN)
    response = key.create(ORIGIN, options)
    verifier.webauthn_register_complete("alice", state_id, response, "Key")
    with pytest.raises(WebAuthnRejected):
        verifier.webauthn_register_complete("alice", state_id, response, "Key")


def test_a_u2f_only_key_registers_and_authenticates_through_webauthn(verifier):
    key = HostKey(ctap2=False)
    register(verifier, key)
    state_id, response = assertion(verifier, key)
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).ok


@pytest.mark.parametrize("ctap2", [True, False], ids=["fido2_key", "u2f_only_key"])
def test_a_legacy_u2f_registration_verifies_through_the_appid(verifier, ctap2):
    key = HostKey(ctap2=ctap2)  # a FIDO2 key is asked with the appId as rpId, a U2F-only one over CTAP1
    verifier.create_user("alice")
    key_handle, public_key = key.u2f_register(ORIGIN, APPID)  # what the old page's window.u2f.register made
    credential = verifier.import_u2f_credential("alice", key_handle, public_key, "Old U2F key")
    assert credential["legacy_u2f"] is True
    options, state_id = verifier.webauthn_authenticate_begin("alice", ORIGIN)
    assert options["publicKey"]["extensions"] == {"appid": APPID}
    response = key.get(ORIGIN, options)
    assert response["clientExtensionResults"]["appid"] is True
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).ok


def test_a_legacy_u2f_assertion_under_a_different_appid_is_refused(verifier, key):
    verifier.create_user("alice")
    key_handle, public_key = key.u2f_register("https://other.example", "https://other.example/appid.json")
    verifier.import_u2f_credential("alice", key_handle, public_key)
    options, state_id = verifier.webauthn_authenticate_begin("alice", ORIGIN)
    # The host refuses an appId of another site; a client that skips that rule sends this (the host's own
    # appid assertion, without the same-site check in front of it). The verifier must refuse it itself.
    parsed = PublicKeyCredentialRequestOptions.from_dict(options["publicKey"])
    response = webauthn._assert_under_app_id(key.handle, ORIGIN, "https://other.example/appid.json", parsed,
                                             threading.Event(), no_events)
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).reason == "invalid"


def test_keys_can_be_listed_renamed_and_removed(verifier, key):
    credential = register(verifier, key, name="Desk key")
    assert [c["name"] for c in verifier.list_credentials("alice")] == ["Desk key"]
    verifier.rename_credential("alice", credential["id"], "Travel key")
    assert verifier.list_credentials("alice")[0]["name"] == "Travel key"
    verifier.remove_credential("alice", credential["id"])
    with pytest.raises(CredentialNotFound):
        verifier.webauthn_authenticate_begin("alice", ORIGIN)


def test_removing_another_users_key_is_refused(verifier, key):
    credential = register(verifier, key, "alice")
    verifier.create_user("bob")
    with pytest.raises(CredentialNotFound):
        verifier.remove_credential("bob", credential["id"])


def test_attestation_is_accepted_when_it_chains_to_a_configured_root(store, server_key, clock, key):
    root = key.store.attestation_root
    verifier = Verifier(store, fast_settings(server_key, attestation="verify", attestation_roots=(root,)), clock)
    assert register(verifier, key)["name"] == "Key"


def test_attestation_from_an_unknown_root_is_refused(store, server_key, clock, key):
    other_root = HostKey().store.attestation_root
    verifier = Verifier(store, fast_settings(server_key, attestation="verify", attestation_roots=(other_root,)),
                        clock)
    with pytest.raises(WebAuthnRejected):
        register(verifier, key)
    assert verifier.list_credentials("alice") == []


def test_a_refused_assertion_spends_its_challenge(verifier, key):
    register(verifier, key)
    state_id, response = assertion(verifier, key)
    tampered = {**response, "response": {**response["response"], "signature": websafe_encode(b"\0" * 70)}}
    assert verifier.webauthn_authenticate_complete("alice", state_id, tampered, IP, UA).reason == "invalid"
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).reason == "expired"


def test_a_counter_regression_spends_its_challenge(verifier, key):
    register(verifier, key)
    state_id, response = assertion(verifier, key)
    assert verifier.webauthn_authenticate_complete("alice", state_id, response, IP, UA).ok
    key.store.counter = 0
    state_id, cloned = assertion(verifier, key)
    assert verifier.webauthn_authenticate_complete("alice", state_id, cloned, IP, UA).reason == "counter_regression"
    assert verifier.webauthn_authenticate_complete("alice", state_id, cloned, IP, UA).reason == "expired"


class ReadsMeetFirst:
    """The real store, except that the assertion reads of ``parties`` requests all finish before any of
    them writes: the interleaving under which only taking the challenge can keep an assertion single-use."""

    def __init__(self, store, parties: int) -> None:
        self._store = store
        self._met = threading.Barrier(parties, timeout=20)

    def credentials_context(self, *args, **kwargs):
        context = self._store.credentials_context(*args, **kwargs)
        if len(args) > 2 or "state_id" in kwargs:  # a complete, not a begin
            self._met.wait()
        return context

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_two_answers_to_one_challenge_count_once_even_from_a_key_without_a_counter(verifier, key):
    key.store.next_counter = lambda: 0  # keys that keep no counter always report 0, so only the challenge guards
    register(verifier, key)
    options, state_id = verifier.webauthn_authenticate_begin("alice", ORIGIN)
    answers = [key.get(ORIGIN, options), key.get(ORIGIN, options)]
    real = verifier.store
    verifier.store = verifier.webauthn.store = ReadsMeetFirst(real, 2)
    results: list = [None, None]

    def complete(i: int) -> None:
        results[i] = verifier.webauthn_authenticate_complete("alice", state_id, answers[i], IP, UA)

    threads = [threading.Thread(target=complete, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    verifier.store = verifier.webauthn.store = real
    assert sorted(r.reason for r in results) == ["expired", "ok"]
    assert [e["result"] for e in verifier.audit(username="alice", event="verify")].count("ok") == 1


def _stored_challenges(verifier: Verifier) -> int:
    with verifier.store.tx(write=False) as tx:
        return tx.run("SELECT COUNT(*) AS n FROM challenges")[0]["n"]


def test_expired_challenges_are_swept_by_a_later_begin(verifier, key, clock):
    register(verifier, key)  # its registration state is taken; nothing stored
    verifier.webauthn_authenticate_begin("alice", ORIGIN)
    verifier.webauthn_authenticate_begin("alice", ORIGIN)  # within the sweep interval: both kept
    assert _stored_challenges(verifier) == 2
    clock.advance(verifier.settings.challenge_ttl + 1)
    verifier.webauthn_authenticate_begin("alice", ORIGIN)
    assert _stored_challenges(verifier) == 1


@pytest.mark.parametrize("member", ["attestationObject", "clientDataJSON"])
def test_a_registration_with_a_huge_number_is_rejected_before_python_fido2_reads_it(verifier, key, member):
    from tests.importers.support import memory_capped

    verifier.create_user("alice")
    options, state_id = verifier.webauthn_register_begin("alice", ORIGIN)
    response = key.create(ORIGIN, options)
    response["response"][member] = 10**12  # from_dict would allocate 10**12 bytes for it
    with memory_capped(), pytest.raises(WebAuthnRejected, match="out of range"):
        verifier.webauthn_register_complete("alice", state_id, response, "Key")
    assert verifier.list_credentials("alice") == []
