"""Helpers shared by the security-key tests (importable as tests.fido.helpers)."""

from __future__ import annotations

from native_host.fido.discovery import KeyHandle
from native_host.fido.soft_transports.ble import open_soft_ble_device
from native_host.fido.soft_transports.hid import open_soft_hid_device
from native_host.fido.soft_transports.nfc import open_soft_nfc_device
from native_host.fido.softkey.authenticator import SoftAuthenticator

ORIGIN = "https://jira.example.com"
RP_ID = "example.com"
TRANSPORTS = ["usb", "nfc", "ble"]


def open_key(transport: str, authenticator: SoftAuthenticator, name: str = "soft") -> KeyHandle:
    """A discovery handle for the software key over ``transport``'s real framing and python-fido2 class."""
    if transport == "usb":
        device = open_soft_hid_device(authenticator, path=f"soft:{name}")
    elif transport == "nfc":
        device = open_soft_nfc_device(authenticator, name=f"reader {name}")
    elif transport == "ble":
        device, _peripheral = open_soft_ble_device(authenticator, name=name)
    else:
        raise ValueError(transport)
    return KeyHandle.for_device(device, transport, f"{name} ({transport})", key_id=f"{transport}:{name}")
