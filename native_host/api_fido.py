"""Security-key methods of the host: ``fido.devices``, ``fido.create``, ``fido.get``, ``u2f.register``,
``u2f.sign`` and ``fido.pin`` (the answer to a ``fido.pin_needed`` event).

They call :class:`native_host.fido.service.FidoService`, imported on the first of these requests only: the
TOTP path never imports fido2. The ceremonies block until a key answers; the host runs each on a worker
thread of its own (``api.CONCURRENT_METHODS``), so vault requests and ``fido.pin`` are served meanwhile.
The request's ``cancelled`` event (set by ``cancel`` or when the port closes) is the ceremony's cancel.

The page's origin is parsed once, here, into an :class:`~native_host.origins.Origin`; an opaque origin
(``"null"``) or one that is not a web origin is ``fido_security_error`` (SecurityError in the page) before
any key is touched. A PIN passes from ``fido.pin`` to the waiting ceremony and nowhere else: never into
an event, a log line or an error message.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .errors import BadRequest, InvalidOrigin
from .framing import usable_id
from .origins import Origin

if TYPE_CHECKING:
    from collections.abc import Callable

    from .fido.service import FidoService

    EmitEvent = Callable[[dict[str, Any]], None]

PIN_WAIT_SECONDS = 300.0  # a PIN prompt nobody answers ends the ceremony (fido_pin_required)
MAX_PIN_LENGTH = 255  # CTAP2 caps a PIN at 63 bytes of UTF-8; anything far longer is not a PIN


class _PinSlot:
    """A ceremony waiting for its PIN."""

    __slots__ = ("answered", "pin")

    def __init__(self) -> None:
        self.answered = threading.Event()
        self.pin: str | None = None


def page_origin(params: dict[str, Any]) -> Origin:
    """The origin the browser reported for the page, parsed once; ``fido_security_error`` when it may not use
    security keys at all (opaque, or not a web origin)."""
    from .fido.errors import FidoBadRequest, OriginRefused

    value = params.get("origin")
    if not isinstance(value, str) or not value:
        raise FidoBadRequest("parameter 'origin' must be the page's origin (a non-empty string)")
    try:
        origin = Origin.parse(value, allow_opaque=True)
    except InvalidOrigin as exc:
        raise OriginRefused(f"not a web origin: {exc.message}") from None
    if origin.opaque:
        raise OriginRefused("an opaque origin (sandboxed frame or data: URL) cannot use security keys")
    return origin


class FidoMethods:
    """The security-key half of one host session: the service (made on first use) and the PIN prompts."""

    def __init__(self, emit: EmitEvent, env: dict[str, str] | None = None) -> None:
        self._emit = emit
        self._env = env
        self._service: FidoService | None = None
        self._lock = threading.Lock()
        self._pins: dict[Any, _PinSlot] = {}  # request id -> its open PIN prompt; guarded by _lock

    def service(self) -> FidoService:
        with self._lock:
            if self._service is None:
                from .fido.service import FidoService

                self._service = FidoService(env=self._env)
            return self._service

    def call(self, method: str, params: dict[str, Any], cancelled: threading.Event, request_id: Any) -> dict[str, Any]:
        """Run one security-key method (blocking until a key answers, ``cancelled`` is set or it times out)."""
        if method == "fido.pin":
            return self.answer_pin(params)
        if method == "fido.devices":
            return self.service().devices()
        page = {**params, "origin": page_origin(params)}  # parsed once: the ceremonies take the Origin as is
        on_event = self._events_for(request_id)
        service = self.service()
        if method in ("fido.create", "fido.get"):
            ceremony = service.create if method == "fido.create" else service.get
            return ceremony(page, on_event=on_event, pin_provider=self._pin_provider(request_id, cancelled),
                            cancel=cancelled)
        u2f = service.u2f_register if method == "u2f.register" else service.u2f_sign
        return u2f(page, on_event=on_event, cancel=cancelled)

    def unlock_vault(self, path: Any, cancelled: threading.Event, request_id: Any) -> Any:
        """The vault at ``path`` unlocked by touching an enrolled security key (``fido.touch`` events)."""
        from .fido.vault_key import unlock_vault
        from .vault import VaultFile

        return unlock_vault(VaultFile(path), self.service().keys(), on_event=self._events_for(request_id),
                            cancel=cancelled)

    # -- events and PINs

    def _events_for(self, request_id: Any) -> Callable[[str, dict[str, Any]], None]:
        def on_event(name: str, details: dict[str, Any]) -> None:
            if name == "fido.pin_needed":  # open the prompt before the extension can answer it
                with self._lock:
                    self._pins[request_id] = _PinSlot()
            self._emit({"event": name, "id": request_id, **details})

        return on_event

    def _pin_provider(self, request_id: Any, cancelled: threading.Event) -> Callable[[str, str | None], str | None]:
        def pin_provider(key_id: str, rp_id: str | None) -> str | None:
            with self._lock:
                slot = self._pins.setdefault(request_id, _PinSlot())
            try:
                waited = 0.0
                while not slot.answered.wait(0.05):  # wake for a cancel, too
                    waited += 0.05
                    if cancelled.is_set() or waited >= PIN_WAIT_SECONDS:
                        return None  # the ceremony then ends cancelled (or pin required)
                return slot.pin
            finally:
                with self._lock:
                    if self._pins.get(request_id) is slot:
                        del self._pins[request_id]

        return pin_provider

    def answer_pin(self, params: dict[str, Any]) -> dict[str, Any]:
        """``fido.pin {"target": ID, "pin": str | null}``: give the waiting ceremony its PIN (null declines)."""
        target, pin = params.get("target"), params.get("pin")
        if target is None or not usable_id(target):
            raise BadRequest("parameter 'target' must be the id of the request that asked for a PIN")
        if pin is not None and (not isinstance(pin, str) or not pin or len(pin) > MAX_PIN_LENGTH):
            raise BadRequest(f"parameter 'pin' must be a non-empty string of at most {MAX_PIN_LENGTH} characters, "
                             "or null to decline")
        with self._lock:
            slot = self._pins.get(target)
        if slot is None or slot.answered.is_set():
            raise BadRequest(f"no request with id {target!r} is waiting for a PIN")
        slot.pin = pin
        slot.answered.set()
        return {"answered": True}

    def close(self) -> None:
        with self._lock:
            service, self._service = self._service, None
            for slot in self._pins.values():
                slot.answered.set()  # a ceremony still waiting gets no PIN (its request was cancelled)
        if service is not None:
            service.close()
