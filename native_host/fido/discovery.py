"""Every security key on every transport, with its name, transport and capabilities.

A transport whose library is missing (pyscard for NFC, bleak for BLE) or whose system service is
absent (no pcscd, no Bluetooth adapter) is reported unavailable with the reason, never raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TRANSPORTS = ("usb", "nfc", "ble", "virtual")


@dataclass
class KeyHandle:
    """One key found by discovery. ``device()`` opens it once (BLE connects lazily)."""

    id: str
    name: str
    transport: str
    capabilities: list[str]
    virtual: bool = False
    opener: Callable[[], Any] | None = field(default=None, repr=False)
    _device: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Per-key objects the ceremonies reuse across requests (a python-fido2 client costs a getInfo to build).
    ceremony_cache: dict[str, Any] = field(default_factory=dict, repr=False)
    # Where the key comes from when that matters (the VirtualKey of the virtual key).
    source: Any = field(default=None, repr=False)
    # One request at a time per key: a key cannot serve two ceremonies at once.
    busy: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # False when listed for a ceremony only (no getInfo spent on it); to_json() probes it then.
    capabilities_probed: bool = field(default=True, repr=False)

    @classmethod
    def for_device(cls, device: Any, transport: str, name: str, *, key_id: str | None = None,
                   virtual: bool = False) -> KeyHandle:
        """A handle around an already opened ``CtapDevice`` (tests, benchmarks, the virtual key)."""
        handle = cls(key_id or f"{transport}:{name}", name, transport, device_capabilities(device), virtual)
        handle._device = device
        return handle

    def device(self) -> Any:
        """The python-fido2 ``CtapDevice`` for this key."""
        with self._lock:
            if self._device is None:
                if self.opener is None:
                    raise RuntimeError(f"{self.id} cannot be opened")
                self._device = self.opener()
            return self._device

    def close(self) -> None:
        with self._lock:
            self.ceremony_cache.clear()
            if self._device is not None:
                try:
                    self._device.close()
                finally:
                    self._device = None

    def to_json(self) -> dict[str, Any]:
        if not self.capabilities_probed:
            self.capabilities, self.capabilities_probed = device_capabilities(self.device()), True
        return {"id": self.id, "name": self.name, "transport": self.transport,
                "capabilities": list(self.capabilities), "virtual": self.virtual}


@dataclass(frozen=True)
class TransportStatus:
    transport: str
    available: bool
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"transport": self.transport, "available": self.available, "reason": self.reason}


@dataclass
class Discovery:
    keys: list[KeyHandle]
    transports: list[TransportStatus]

    def to_json(self) -> dict[str, Any]:
        return {"keys": [k.to_json() for k in self.keys], "transports": [t.to_json() for t in self.transports]}

    def close(self) -> None:
        for key in self.keys:
            key.close()


def device_capabilities(device: Any) -> list[str]:
    """What a key can do, from its CTAPHID capability flags and (for CTAP2 keys) getInfo."""
    from fido2.ctap2 import Ctap2
    from fido2.hid import CAPABILITY

    from .fido2_caches import install

    install()
    caps: list[str] = []
    flags = device.capabilities
    if flags & CAPABILITY.CBOR:
        caps.append("fido2")
    # NMSG means "no U2F messages" on HID; fido2.pcsc sets it when the applet answers U2F_V2 (pitfall 8).
    is_pcsc = type(device).__name__ == "CtapPcscDevice"
    if is_pcsc or not flags & CAPABILITY.NMSG:
        caps.append("u2f")
    if flags & CAPABILITY.CBOR:
        try:
            info = Ctap2(device).info
        except Exception:
            return caps
        if "U2F_V2" not in info.versions and "u2f" in caps:
            caps.remove("u2f")
        if "clientPin" in info.options:
            caps.append("pin_set" if info.options["clientPin"] else "pin_supported")
        if info.options.get("rk"):
            caps.append("resident_keys")
        if "hmac-secret" in info.extensions:
            caps.append("prf")
        if "credProtect" in info.extensions:
            caps.append("cred_protect")
    return caps


def _keys_from_devices(devices: Iterable[Any], transport: str, id_of: Callable[[Any], str],
                       name_of: Callable[[Any], str], probe: bool) -> list[KeyHandle]:
    keys = []
    for device in devices:
        handle = KeyHandle(id_of(device), name_of(device), transport, device_capabilities(device) if probe else [],
                           capabilities_probed=probe)
        handle._device = device
        keys.append(handle)
    return keys


def _usb(lister: Callable[[], Iterable[Any]] | None, probe: bool) -> list[KeyHandle]:
    if lister is None:
        from fido2.hid import list_devices as lister
    return _keys_from_devices(lister(), "usb", lambda d: f"usb:{d.descriptor.path}",
                              lambda d: d.product_name or "USB security key", probe)


def _nfc(lister: Callable[[], Iterable[Any]] | None, probe: bool) -> list[KeyHandle]:
    if lister is None:
        try:
            from fido2.pcsc import CtapPcscDevice
        except ImportError as exc:
            raise _Unavailable(f"pyscard is not installed (pip install 'tracker2fa[nfc]'): {exc}") from None
        lister = CtapPcscDevice.list_devices
    try:
        devices = list(lister())
    except Exception as exc:
        if "EstablishContext" in type(exc).__name__ or "Service not available" in str(exc):
            raise _Unavailable(f"the PC/SC service (pcscd) is not running: {exc}") from None
        raise
    return _keys_from_devices(devices, "nfc", lambda d: f"nfc:{d._name}", lambda d: f"NFC key on {d._name}", probe)


def _ble(scanner: Callable[[], Iterable[Any]] | None, timeout: float) -> list[KeyHandle]:
    if scanner is None:
        try:
            import bleak  # noqa: F401 - probe only: the transport is unavailable without it
        except ImportError:
            raise _Unavailable("bleak is not installed (pip install 'tracker2fa[ble]')") from None
        from .ble.scan import scan

        def scanner() -> Iterable[Any]:
            return scan(timeout)

    from .ble.scan import open_ble_device

    try:
        peripherals = list(scanner())
    except (FileNotFoundError, ConnectionError) as exc:  # BlueZ's D-Bus socket is missing: no Bluetooth here
        raise _Unavailable(f"no Bluetooth service or adapter (BlueZ over D-Bus): {exc}") from None
    except Exception as exc:
        if type(exc).__name__.startswith("Bleak"):
            raise _Unavailable(f"Bluetooth unavailable: {exc}") from None
        raise
    return [KeyHandle(f"ble:{p.address}", p.name, "ble", ["fido2_or_u2f"],
                      opener=lambda p=p: open_ble_device(p)) for p in peripherals]


def _virtual(env: Mapping[str, str] | None) -> list[KeyHandle]:
    from .virtual_key import VIRTUAL_KEY_LABEL, StoreError, virtual_key_from_env

    key = virtual_key_from_env(env)
    if key is None:
        raise _Unavailable("TRACKER2FA_VIRTUAL_KEY is not set (the virtual key is for testing only)")
    try:
        device = key.open_device()
    except StoreError as exc:
        raise _Unavailable(str(exc)) from None
    handle = KeyHandle(f"virtual:{key.path}", VIRTUAL_KEY_LABEL, "virtual", device_capabilities(device),
                       virtual=True, opener=key.open_device, source=key)
    handle._device = device
    return [handle]


class _Unavailable(Exception):
    """This transport cannot be used here; the message says why."""


def discover(env: Mapping[str, str] | None = None, *, transports: Iterable[str] = TRANSPORTS,
             hid_lister: Callable[[], Iterable[Any]] | None = None,
             pcsc_lister: Callable[[], Iterable[Any]] | None = None,
             ble_scanner: Callable[[], Iterable[Any]] | None = None, ble_timeout: float = 2.0,
             probe_capabilities: bool = True) -> Discovery:
    """List the keys on the requested transports. Never raises for a missing library or service.

    ``probe_capabilities=False`` (keys listed for a ceremony) leaves USB and NFC keys' capabilities to be
    read when shown: the getInfo it costs is a round trip the ceremony's own client repeats anyway."""
    keys: list[KeyHandle] = []
    statuses: list[TransportStatus] = []
    probes: dict[str, Callable[[], list[KeyHandle]]] = {
        "usb": lambda: _usb(hid_lister, probe_capabilities), "nfc": lambda: _nfc(pcsc_lister, probe_capabilities),
        "ble": lambda: _ble(ble_scanner, ble_timeout), "virtual": lambda: _virtual(env)}
    for transport in transports:
        if transport not in probes:
            statuses.append(TransportStatus(transport, False, f"unknown transport {transport!r}"))
            continue
        try:
            found = probes[transport]()
        except _Unavailable as exc:
            statuses.append(TransportStatus(transport, False, str(exc)))
            continue
        except Exception as exc:  # a system service missing (pcscd down, no adapter): report, don't fail
            statuses.append(TransportStatus(transport, False, f"{type(exc).__name__}: {exc}"))
            continue
        keys.extend(found)
        statuses.append(TransportStatus(transport, True))
    return Discovery(keys, statuses)
