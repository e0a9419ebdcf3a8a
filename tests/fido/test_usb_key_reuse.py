"""FidoService keeps a USB key's open handle (and its python-fido2 client) between requests, only while the
key is still listed and still answers on that handle: a key unplugged and plugged in again, or another key
at the same path, is used through its new handle; a key gone is forgotten."""

from __future__ import annotations

import pytest
from fido2.ctap2 import ClientPin, Ctap2
from fido2.server import Fido2Server
from fido2.utils import websafe_decode

from native_host.fido.errors import NoDevice
from native_host.fido.service import FidoService
from native_host.fido.soft_transports.hid import open_soft_hid_device
from native_host.fido.softkey.authenticator import SoftAuthenticator

ORIGIN = "http://localhost:8000"
PATH = "/dev/hidraw0"  # where the listing finds "the" key; a replugged key may come back at the same path


class UsbPort:
    """What fido2.hid.list_devices sees: the key plugged in at PATH (or none), opened afresh at each listing."""

    def __init__(self, key: SoftAuthenticator | None) -> None:
        self.key = key
        self.opened: list = []

    def list_devices(self) -> list:
        if self.key is None:
            return []
        device = open_soft_hid_device(self.key, path=PATH)
        self.opened.append(device)
        return [device]

    def unplug(self) -> None:
        """The key leaves: every handle opened on it fails from now on, as a hidraw descriptor does."""
        for device in self.opened:
            device._connection.closed = True
        self.key = None


def _service(port: UsbPort) -> FidoService:
    return FidoService({}, transports=("usb",), hid_lister=port.list_devices)


def _register(service: FidoService, server: Fido2Server, user: bytes = b"ann", **kwargs) -> object:
    options, state = server.register_begin({"id": user, "name": user.decode()}, **kwargs)
    return server.register_complete(state, service.create({"origin": ORIGIN, "options": dict(options.public_key)},
                                                          pin_provider=lambda key, rp: "4321")).credential_data


def _sign_in(service: FidoService, server: Fido2Server, credential: object, **kwargs) -> bool:
    """A sign-in; whether the key verified the user (the UV flag)."""
    options, state = server.authenticate_begin([credential], **kwargs)
    response = service.get({"origin": ORIGIN, "options": dict(options.public_key)},
                           pin_provider=lambda key, rp: "4321")
    server.authenticate_complete(state, [credential], response)
    return bool(websafe_decode(response["response"]["authenticatorData"])[32] & 0x04)


@pytest.fixture
def server() -> Fido2Server:
    return Fido2Server({"id": "localhost", "name": "Mock tracker"})


def test_a_usb_key_still_plugged_in_keeps_its_handle_between_requests(server):
    service = _service(UsbPort(SoftAuthenticator()))
    credential = _register(service, server)
    [first] = service.keys()
    _sign_in(service, server, credential)
    [again] = service.keys()
    assert again is first  # the same open handle, with its python-fido2 client


def test_a_key_unplugged_and_plugged_in_again_is_used_through_its_new_handle(server):
    key = SoftAuthenticator()
    port = UsbPort(key)
    service = _service(port)
    credential = _register(service, server)
    _sign_in(service, server, credential)
    port.unplug()
    port.key = key  # back, at the same path
    _sign_in(service, server, credential)  # not fido_device_removed from the dead handle


def test_another_key_at_the_same_path_answers_for_itself(server):
    port = UsbPort(SoftAuthenticator())
    service = _service(port)
    _register(service, server, b"ann")
    port.unplug()
    port.key = SoftAuthenticator()  # another key, plugged into the same port
    credential = _register(service, server, b"bob")
    _sign_in(service, server, credential)
    assert len(port.key.store.credentials) == 1


def test_a_key_gone_is_forgotten(server):
    port = UsbPort(SoftAuthenticator())
    service = _service(port)
    credential = _register(service, server)
    port.unplug()
    with pytest.raises(NoDevice):
        _sign_in(service, server, credential)


def test_a_pin_set_by_another_application_is_asked_for_from_the_request_after_next(server):
    """The kept client's getInfo is never older than the previous request: once a PIN was set elsewhere,
    "preferred" user verification is honoured again (a client that kept its first getInfo thought the key had
    no PIN, dropped "preferred" and never asked for the PIN)."""
    key = SoftAuthenticator()
    service = _service(UsbPort(key))
    credential = _register(service, server, b"ann")
    ClientPin(Ctap2(open_soft_hid_device(key, path="other-app"))).set_pin("4321")  # e.g. the browser's settings
    _sign_in(service, server, credential, user_verification="preferred")  # the request in between
    assert _sign_in(service, server, credential, user_verification="preferred") is True
