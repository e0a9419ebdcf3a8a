"""FidoService: what the host's fido.* / u2f.* methods will call, with the developer's virtual key."""

from __future__ import annotations

import pytest
from fido2.server import Fido2Server
from fido2.utils import websafe_decode, websafe_encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from native_host.fido.errors import FidoBadRequest, FidoError, NoCredential
from native_host.fido.service import FidoService

ORIGIN = "http://localhost:8000"


@pytest.fixture
def service(tmp_path):
    service = FidoService({"TRACKER2FA_VIRTUAL_KEY": str(tmp_path / "vkey.json")},
                          transports=("usb", "virtual"), hid_lister=lambda: [])
    yield service
    service.close()


def test_devices_lists_the_virtual_key_and_every_transport(service):
    listing = service.devices()
    assert [k["transport"] for k in listing["keys"]] == ["virtual"]
    assert listing["keys"][0]["virtual"] is True
    assert [t["transport"] for t in listing["transports"]] == ["usb", "virtual"]


def test_create_then_get_with_the_virtual_key(service):
    server = Fido2Server({"id": "localhost", "name": "Mock tracker"})
    options, state = server.register_begin({"id": b"alice", "name": "alice"})
    events: list[str] = []
    registration = service.create({"origin": ORIGIN, "options": dict(options.public_key)},
                                  on_event=lambda name, details: events.append(name))
    credential = server.register_complete(state, registration).credential_data
    options, state = server.authenticate_begin([credential])
    server.authenticate_complete(state, [credential], service.get({"origin": ORIGIN,
                                                                   "options": dict(options.public_key)}))
    assert events == ["fido.selected"]  # the virtual key answers presence by itself: no touch prompt


def test_u2f_register_then_sign_with_the_virtual_key(service):
    app_id = "http://localhost:8000/app-id.json"
    registration = service.u2f_register({"origin": ORIGIN, "appId": app_id,
                                         "registerRequests": [{"version": "U2F_V2", "challenge": "Y2hhbA"}]})
    from fido2.ctap1 import RegistrationData

    handle = RegistrationData(websafe_decode(registration["registrationData"])).key_handle
    signed = service.u2f_sign({"origin": ORIGIN, "appId": app_id, "challenge": "c2lnbg",
                               "registeredKeys": [{"version": "U2F_V2", "keyHandle": websafe_encode(handle)}]})
    assert signed["keyHandle"] == websafe_encode(handle)


def test_u2f_sign_for_a_handle_of_another_key_is_device_ineligible(service):
    with pytest.raises(NoCredential):
        service.u2f_sign({"origin": ORIGIN, "challenge": "c2lnbg",
                          "registeredKeys": [{"version": "U2F_V2", "keyHandle": websafe_encode(b"k" * 64)}]})


@pytest.mark.parametrize("params, missing", [({"options": {}}, "origin"), ({"origin": ORIGIN}, "options")])
def test_missing_parameter_is_a_bad_request_naming_it(service, params, missing):
    with pytest.raises(FidoBadRequest, match=f"params.{missing} is required"):
        service.get(params)


def test_options_that_are_not_webauthn_json_are_a_bad_request(service):
    with pytest.raises(FidoBadRequest, match="challenge"):
        service.create({"origin": ORIGIN, "options": {"rp": {"name": "x"}}})


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                        max_size=5), max_leaves=20)
option_keys = st.sampled_from(["challenge", "rp", "user", "pubKeyCredParams", "rpId", "allowCredentials",
                               "extensions", "timeout", "excludeCredentials", "authenticatorSelection"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(option_keys, json_values, max_size=6), st.sampled_from(["create", "get"]))
def test_malformed_options_end_in_a_fido_error_never_a_crash(service, options, method):
    try:
        getattr(service, method)({"origin": ORIGIN, "options": options})
    except FidoError as exc:
        assert exc.code.startswith("fido_")


def test_a_virtual_key_changed_by_another_host_process_is_read_again(tmp_path):
    env = {"TRACKER2FA_VIRTUAL_KEY": str(tmp_path / "shared.json")}
    chromium, firefox = (FidoService(env, transports=("virtual",)) for _ in range(2))
    firefox.devices()  # firefox's host opened the key before chromium's host registered on it
    server = Fido2Server({"id": "localhost", "name": "Mock tracker"})
    options, state = server.register_begin({"id": b"alice", "name": "alice"})
    credential = server.register_complete(state, chromium.create({"origin": ORIGIN,
                                                                  "options": dict(options.public_key)}))
    options, state = server.authenticate_begin([credential.credential_data])
    assertion = firefox.get({"origin": ORIGIN, "options": dict(options.public_key)})
    server.authenticate_complete(state, [credential.credential_data], assertion)
