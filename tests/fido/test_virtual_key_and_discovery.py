"""The developer's virtual key (TRACKER2FA_VIRTUAL_KEY) and discovery across transports."""

from __future__ import annotations

import builtins
import json
import stat
import subprocess
import sys

import pytest
from fido2.server import Fido2Server

from native_host.fido.ceremonies import webauthn
from native_host.fido.discovery import discover
from native_host.fido.virtual_key import VirtualKey

ORIGIN = "http://localhost:8080"
USER = {"id": b"dev", "name": "dev"}


def test_virtual_key_file_is_created_private_and_labelled_for_testing(tmp_path):
    path = tmp_path / "vkey.json"
    found = discover({"TRACKER2FA_VIRTUAL_KEY": str(path)}, transports=["virtual"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [key] = found.keys
    assert key.virtual and key.transport == "virtual"
    assert "virtual key (for testing, not a security key)" in key.name
    assert json.loads(path.read_text())["label"] == key.name


def test_virtual_key_keeps_credentials_and_counter_across_restarts(tmp_path):
    path = tmp_path / "vkey.json"
    server = Fido2Server({"id": "localhost", "name": "Mock"})
    env = {"TRACKER2FA_VIRTUAL_KEY": str(path)}
    options, state = server.register_begin(USER)
    credential = server.register_complete(
        state, webauthn.create(ORIGIN, dict(options.public_key), discover(env, transports=["virtual"]).keys)
    ).credential_data
    counter_after_register = json.loads(path.read_text())["counter"]
    options, state = server.authenticate_begin([credential])
    restarted = discover(env, transports=["virtual"]).keys  # a new host process reads the file again
    server.authenticate_complete(state, [credential], webauthn.get(ORIGIN, dict(options.public_key), restarted))
    assert json.loads(path.read_text())["counter"] > counter_after_register


def test_damaged_virtual_key_file_is_reported_and_left_untouched(tmp_path):
    path = tmp_path / "vkey.json"
    path.write_text('{"format": "something else"}')
    found = discover({"TRACKER2FA_VIRTUAL_KEY": str(path)}, transports=["virtual"])
    assert found.keys == []
    assert found.transports[0].available is False
    assert "not a tracker2fa virtual key file" in found.transports[0].reason
    assert path.read_text() == '{"format": "something else"}'


def test_without_the_variable_there_is_no_virtual_key():
    found = discover({}, transports=["virtual"])
    assert found.keys == [] and "TRACKER2FA_VIRTUAL_KEY is not set" in found.transports[0].reason


def test_missing_pyscard_reports_nfc_unavailable_not_an_exception(monkeypatch):
    real_import = builtins.__import__

    def no_pyscard(name, *args, **kwargs):
        if name == "smartcard" or name.startswith("smartcard.") or name == "fido2.pcsc":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "fido2.pcsc", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_pyscard)
    found = discover({}, transports=["nfc"])
    assert found.transports[0].available is False
    assert "pyscard is not installed" in found.transports[0].reason


def test_missing_bleak_reports_ble_unavailable_not_an_exception(monkeypatch):
    monkeypatch.setitem(sys.modules, "bleak", None)  # makes "import bleak" raise ImportError
    found = discover({}, transports=["ble"])
    assert found.transports[0].available is False
    assert "bleak is not installed" in found.transports[0].reason


def test_discovery_lists_keys_from_an_injected_hid_lister(tmp_path):
    from native_host.fido.soft_transports.hid import open_soft_hid_device
    from native_host.fido.softkey.authenticator import SoftAuthenticator

    device = open_soft_hid_device(SoftAuthenticator(ctap2=False), path="/dev/hidraw9")
    found = discover({}, transports=["usb"], hid_lister=lambda: [device])
    assert found.to_json()["keys"] == [{"id": "usb:/dev/hidraw9", "name": device.product_name, "transport": "usb",
                                        "capabilities": ["u2f"], "virtual": False}]


def test_importing_the_fido_package_imports_neither_fido2_nor_cryptography():
    code = ("import sys, native_host.fido; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fido2', 'cryptography', 'asyncio')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("path_kind", ["directory"])
def test_virtual_key_path_that_cannot_be_read_is_reported(tmp_path, path_kind):
    found = discover({"TRACKER2FA_VIRTUAL_KEY": str(tmp_path)}, transports=["virtual"])
    assert found.transports[0].available is False
    assert "cannot read the virtual key file" in found.transports[0].reason
    assert VirtualKey(tmp_path).path == tmp_path


def test_a_key_reopened_after_a_crash_signs_above_every_counter_it_ever_signed(tmp_path):
    from fido2.utils import websafe_decode
    from fido2.webauthn import AuthenticatorData

    path = tmp_path / "vkey.json"
    server = Fido2Server({"id": "localhost", "name": "Mock"})
    env = {"TRACKER2FA_VIRTUAL_KEY": str(path)}
    options, state = server.register_begin(USER)
    keys = discover(env, transports=["virtual"]).keys
    registration = webauthn.create(ORIGIN, dict(options.public_key), keys)
    credential = server.register_complete(state, registration).credential_data

    def counter(keys) -> int:
        options, state = server.authenticate_begin([credential])
        assertion = webauthn.get(ORIGIN, dict(options.public_key), keys)
        server.authenticate_complete(state, [credential], assertion)
        return AuthenticatorData(websafe_decode(assertion["response"]["authenticatorData"])).counter

    signed = [counter(keys) for _ in range(5)]  # then the process dies: nothing is saved on the way out
    after_crash = counter(discover(env, transports=["virtual"]).keys)
    assert after_crash > max(signed)
