"""What the host calls: one object per host process holding the known keys, with one method per message.

    service = FidoService()                      # reads TRACKER2FA_VIRTUAL_KEY from the environment
    service.devices()                            # fido.devices  → {"keys": [...], "transports": [...],
                                                 #                  "autoConfirm": bool}
    service.create(params, on_event=..., pin_provider=..., cancel=event)   # fido.create
    service.get(params, ...)                     # fido.get
    service.u2f_register(params, ...)            # u2f.register
    service.u2f_sign(params, ...)                # u2f.sign

``params`` are the protocol's params (``origin`` from the browser, never from the page). Errors are
:class:`native_host.fido.errors.FidoError` (a ``Tracker2faError``: ``code``, message, plus ``dom_name`` and
``u2f_error_code`` for the extension). Calls block until a key answers, the ``cancel`` event is set or
the request times out: run them on a worker thread. USB, NFC and the virtual key are listed again at each
request, so a key plugged in or tapped since is found (the virtual key's open handle, with its cached
python-fido2 client, is kept while no other process changes its file; a USB key's open handle is kept
while the listing still shows it and it still answers a CTAPHID PING, see :func:`_still_answers`);
Bluetooth keys come from the last ``devices()`` scan (a scan takes seconds).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from native_host.origins import Origin

from .ceremonies.interaction import EventSink, PinProvider, no_events
from .discovery import TRANSPORTS, Discovery, KeyHandle, TransportStatus, discover
from .errors import FidoBadRequest

QUICK_TRANSPORTS = ("usb", "nfc", "virtual")  # listed at every request; BLE only on devices()


def _require(params: Any, *names: str) -> Mapping[str, Any]:
    if not isinstance(params, Mapping):
        raise FidoBadRequest("params must be an object")
    for name in names:
        if name not in params:
            raise FidoBadRequest(f"params.{name} is required")
    if not isinstance(params["origin"], (str, Origin)):  # the host passes the Origin it parsed
        raise FidoBadRequest("params.origin must be a string")
    return params


def _still_answers(key: KeyHandle) -> bool:
    """True when the USB key's open handle still reaches the key: a CTAPHID PING on its channel is echoed.

    A key unplugged since fails here for good, even when it (or another key) is back at the same path: its
    old handle's file descriptor and channel died with it, so the fresh handle is taken. A handle serving a
    request (its channel is that request's) or never opened is not probed: the fresh handle is taken too,
    as before this cache. A key busy with another application's request answers CHANNEL_BUSY, which
    python-fido2 retries until its event is set: the ping gives up after PING_SECONDS. Whatever goes wrong
    counts as "no"."""
    if not key.busy.acquire(blocking=False):
        return False
    try:
        from fido2.hid import CTAPHID, CtapHidDevice

        device = key._device
        if not isinstance(device, CtapHidDevice):
            return False
        return bool(device.call(CTAPHID.PING, _PING, _Deadline(PING_SECONDS)) == _PING)
    except Exception:
        return False
    finally:
        key.busy.release()


_PING = b"tracker2fa"
PING_SECONDS = 1.0


class _Deadline:
    """The subset of ``threading.Event`` python-fido2's ``call`` uses, set once ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def is_set(self) -> bool:
        return time.monotonic() >= self._end

    def wait(self, timeout: float | None = None) -> bool:
        remaining = self._end - time.monotonic()
        if remaining > 0:
            time.sleep(remaining if timeout is None else min(timeout, remaining))
        return self.is_set()


class FidoService:
    def __init__(self, env: Mapping[str, str] | None = None, *, transports: Iterable[str] = TRANSPORTS,
                 ble_timeout: float = 2.0, **listers: Any) -> None:
        self._env = env
        self._transports = tuple(transports)
        self._ble_timeout = ble_timeout
        self._listers = listers  # hid_lister / pcsc_lister / ble_scanner, for tests
        self._lock = threading.Lock()
        self._keys: dict[str, KeyHandle] = {}
        self._statuses: dict[str, TransportStatus] = {}

    def _merge(self, found: Discovery, transports: tuple[str, ...]) -> list[KeyHandle]:
        """Take the fresh handles (a USB key may have been replugged, an NFC card tapped again), except for a
        virtual key whose file nobody else changed and a USB key whose open handle still answers: their open
        handles keep their cached python-fido2 clients (a new client costs a getInfo)."""
        with self._lock:
            kept_usb = [self._keys[k.id] for k in found.keys if k.transport == "usb" and k.id in self._keys]
        alive = [old for old in kept_usb if _still_answers(old)]  # I/O: not under the lock
        with self._lock:
            seen = set()
            for key in found.keys:
                seen.add(key.id)
                old = self._keys.get(key.id)
                if old is not None and old.virtual and not old.source.changed_on_disk():
                    key.close()
                    continue
                if old is not None and any(old is handle for handle in alive):
                    if key.capabilities_probed and not old.capabilities_probed:
                        old.capabilities, old.capabilities_probed = key.capabilities, True
                    if key._device is not old._device:  # a lister may hand out the same device again
                        key.close()
                    continue
                self._keys[key.id] = key
                if old is not None and not old.busy.locked():
                    old.close()  # a busy one is a loser of the last race still cancelling: let it end
            for key_id in [k for k, v in self._keys.items() if v.transport in transports and k not in seen]:
                self._keys.pop(key_id).close()
            for status in found.transports:
                self._statuses[status.transport] = status
            return list(self._keys.values())

    def _discover(self, transports: tuple[str, ...], *, probe_capabilities: bool = True) -> list[KeyHandle]:
        transports = tuple(t for t in transports if t in self._transports)
        with self._lock:
            virtual_current = any(k.virtual and not k.source.changed_on_disk() for k in self._keys.values())
        if virtual_current:  # opening the virtual key reads its file: skip it while the open one is current
            transports = tuple(t for t in transports if t != "virtual")
        return self._merge(discover(self._env, transports=transports, ble_timeout=self._ble_timeout,
                                    probe_capabilities=probe_capabilities, **self._listers), transports)

    def devices(self) -> dict[str, Any]:
        """fido.devices: every key on every transport, and why a transport is unavailable."""
        from .virtual_key import auto_confirm_from_env

        keys = self._discover(self._transports)
        return {"keys": [k.to_json() for k in keys],
                "transports": [self._statuses[t].to_json() for t in self._transports if t in self._statuses],
                # The extension skips its consent window only when every key listed is virtual.
                "autoConfirm": "virtual" in self._transports and auto_confirm_from_env(self._env)}

    def keys(self) -> list[KeyHandle]:
        """The keys a ceremony runs on (USB and NFC listed afresh; their capabilities not read: no getInfo)."""
        return self._discover(QUICK_TRANSPORTS, probe_capabilities=False)

    def create(self, params: Any, *, on_event: EventSink = no_events, pin_provider: PinProvider | None = None,
               cancel: threading.Event | None = None) -> dict[str, Any]:
        from .ceremonies import webauthn

        p = _require(params, "origin", "options")
        allowed = p.get("allowAttestation", False)
        if not isinstance(allowed, bool):
            raise FidoBadRequest("params.allowAttestation must be true or false (the user's answer)")
        return webauthn.create(p["origin"], p["options"], self.keys(), on_event=on_event,
                               pin_provider=pin_provider, cancel=cancel, attestation_allowed=allowed,
                               top_origin=p.get("topOrigin"))

    def get(self, params: Any, *, on_event: EventSink = no_events, pin_provider: PinProvider | None = None,
            cancel: threading.Event | None = None) -> dict[str, Any]:
        from .ceremonies import webauthn

        p = _require(params, "origin", "options")
        return webauthn.get(p["origin"], p["options"], self.keys(), on_event=on_event,
                            pin_provider=pin_provider, cancel=cancel, top_origin=p.get("topOrigin"))

    def u2f_register(self, params: Any, *, on_event: EventSink = no_events,
                     cancel: threading.Event | None = None) -> dict[str, Any]:
        from .ceremonies import u2f

        p = _require(params, "origin", "registerRequests")
        return u2f.register(p["origin"], p.get("appId"), p["registerRequests"], p.get("registeredKeys") or [],
                            self.keys(), timeout_seconds=p.get("timeoutSeconds"), on_event=on_event, cancel=cancel)

    def u2f_sign(self, params: Any, *, on_event: EventSink = no_events,
                 cancel: threading.Event | None = None) -> dict[str, Any]:
        from .ceremonies import u2f

        p = _require(params, "origin", "registeredKeys")  # each key may carry its own challenge (U2F 1.0)
        return u2f.sign(p["origin"], p.get("appId"), p.get("challenge"), p["registeredKeys"], self.keys(),
                        timeout_seconds=p.get("timeoutSeconds"), on_event=on_event, cancel=cancel)

    def close(self) -> None:
        with self._lock:
            for key in self._keys.values():
                key.close()
            self._keys.clear()
