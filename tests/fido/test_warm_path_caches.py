"""The warm-path shortcuts change no behaviour: python-fido2 parses as shipped, deadlines still fire,
keys listed for a ceremony (no getInfo spent) still show their capabilities."""

from __future__ import annotations

import dataclasses
import json
import math
import threading
import time
import typing

import fido2.ctap2
import fido2.ctap2.base
import fido2.ctap2.credman
import fido2.ctap2.pin
import fido2.utils
import fido2.webauthn
import pytest
from fido2 import cbor
from fido2.utils import websafe_encode
from hypothesis import given
from hypothesis import strategies as st

from native_host.fido import fido2_caches
from native_host.fido.ceremonies import race, webauthn
from native_host.fido.service import FidoService
from native_host.fido.soft_transports.hid import open_soft_hid_device
from native_host.fido.softkey.authenticator import SoftAuthenticator
from tests.support.host_key import HostKey

GET_INFO = 0x04


def _fido2_data_classes() -> list[type]:
    found = []
    for module in (fido2.webauthn, fido2.ctap2, fido2.ctap2.base, fido2.ctap2.pin, fido2.ctap2.credman):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, fido2.utils._DataClassMapping) and \
                    hasattr(value, "__dataclass_fields__") and value not in found:
                found.append(value)
    return found


def _cbor_data_classes() -> list[type]:
    return [cls for cls in _fido2_data_classes() if issubclass(cls, fido2.ctap2.base._CborDataObject)]


@pytest.mark.parametrize("cls", _fido2_data_classes(), ids=lambda c: c.__name__)
def test_python_fido2_sees_the_same_type_hints_through_the_cache(cls):
    fido2_caches.install()
    assert fido2.utils.get_type_hints(cls) == typing.get_type_hints(cls)
    assert fido2.utils.get_type_hints(cls) is fido2.utils.get_type_hints(cls)  # cached, not derived again


@pytest.mark.parametrize("cls", _cbor_data_classes(), ids=lambda c: c.__name__)
def test_python_fido2_numbers_ctap2_map_fields_as_it_does_as_shipped(cls):
    fido2_caches.install()
    cached = [cls._get_field_key(f) for f in dataclasses.fields(cls)]
    with fido2_caches.shipped_behaviour():
        assert [cls._get_field_key(f) for f in dataclasses.fields(cls)] == cached


def test_a_get_info_parses_to_the_same_object_as_with_python_fido2_as_shipped():
    raw = SoftAuthenticator().handle_cbor(bytes([GET_INFO]))
    assert raw[0] == 0
    fido2_caches.install()
    cached = fido2.ctap2.Info.from_dict(cbor.decode(raw[1:]))
    with fido2_caches.shipped_behaviour():
        shipped = fido2.ctap2.Info.from_dict(cbor.decode(raw[1:]))
    assert dict(cached) == dict(shipped)
    assert "hmac-secret" in cached.extensions and cached.options["rk"] is True


request_options_json = st.fixed_dictionaries(
    {"challenge": st.binary(min_size=16, max_size=64).map(websafe_encode)},
    optional={"rpId": st.sampled_from(["example.com", "jira.example.com"]),
              "timeout": st.integers(1, 600_000),
              "userVerification": st.sampled_from(["required", "preferred", "discouraged"]),
              "allowCredentials": st.lists(st.fixed_dictionaries(
                  {"type": st.just("public-key"), "id": st.binary(min_size=1, max_size=64).map(websafe_encode)},
                  optional={"transports": st.lists(st.sampled_from(["usb", "nfc", "ble"]), max_size=3)}),
                  max_size=3)})


@given(request_options_json)
def test_request_options_parse_the_same_through_the_caches(json_request_options):
    fido2_caches.install()
    cached = fido2.webauthn.PublicKeyCredentialRequestOptions.from_dict(json_request_options)
    with fido2_caches.shipped_behaviour():
        shipped = fido2.webauthn.PublicKeyCredentialRequestOptions.from_dict(json_request_options)
    assert cached == shipped
    assert dict(cached) | {"allowCredentials": [dict(c) for c in cached.allow_credentials or []]} == \
        json_request_options | {"allowCredentials": json_request_options.get("allowCredentials", [])}


def test_a_short_deadline_registered_after_a_long_one_still_fires():
    watchdog = race._Watchdog()
    long_wait, short_wait = threading.Event(), threading.Event()
    watchdog.watch(time.monotonic() + 600, long_wait)
    while watchdog._wakes_at == math.inf:  # until the thread sleeps towards the long deadline
        time.sleep(0.001)
    watchdog.watch(time.monotonic() + 0.01, short_wait)
    assert short_wait.wait(10), "the earlier deadline did not wake the watchdog"
    assert not long_wait.is_set()


def test_a_deadline_after_an_unwatched_one_fires_when_due():
    watchdog = race._Watchdog()
    first, second = threading.Event(), threading.Event()
    watchdog.unwatch(watchdog.watch(time.monotonic() + 0.02, first))
    watchdog.watch(time.monotonic() + 0.05, second)
    assert second.wait(10)
    assert not first.is_set()


class _CountingKey(SoftAuthenticator):
    """A software key that counts the CTAP2 commands it is sent, by command byte."""

    def __init__(self) -> None:
        super().__init__()
        self.commands: list[int] = []

    def start_cbor(self, request: bytes):
        self.commands.append(request[0])
        return super().start_cbor(request)


def _usb_service(key: SoftAuthenticator) -> FidoService:
    return FidoService({}, transports=("usb",), hid_lister=lambda: [open_soft_hid_device(key, path="soft:counted")])


def test_listing_keys_for_a_ceremony_sends_no_get_info():
    key = _CountingKey()
    _usb_service(key).keys()
    assert GET_INFO not in key.commands


def test_a_key_listed_for_a_ceremony_still_shows_its_capabilities():
    service = _usb_service(_CountingKey())
    [handle] = service.keys()
    assert {"fido2", "u2f"} <= set(handle.to_json()["capabilities"])
    assert {"fido2", "u2f"} <= set(service.devices()["keys"][0]["capabilities"])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20)


def _exact_types(value):
    if isinstance(value, dict):
        return {k: _exact_types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact_types(v) for v in value]
    return type(value).__name__, value


@given(json_values)
def test_a_response_is_converted_as_a_json_round_trip_would(value):
    assert _exact_types(webauthn._plain(value)) == _exact_types(json.loads(json.dumps(value)))


def test_an_assertion_is_plain_json_with_no_python_fido2_types_left():
    key = HostKey()
    options = {"challenge": "AAECAwQFBgcICQoLDA0ODw", "rp": {"id": "example.com", "name": "Example"},
               "user": {"id": "AQID", "name": "alice", "displayName": "Alice"},
               "pubKeyCredParams": [{"type": "public-key", "alg": -7}]}
    created = key.create("https://jira.example.com", options)
    asserted = key.get("https://jira.example.com", {"challenge": "AAECAwQFBgcICQoLDA0ODw", "rpId": "example.com",
                                                     "allowCredentials": [{"type": "public-key",
                                                                           "id": created["id"]}]})
    for result in (created, asserted):
        assert _exact_types(result) == _exact_types(json.loads(json.dumps(result)))
