"""The host's method table: one :class:`Session` per host process, one handler per protocol method.

Handlers take the request's ``params`` (already checked to be a JSON object) and a ``cancelled`` event,
return the ``result`` object, and raise a :class:`~native_host.errors.Tracker2faError` subclass whose
``code`` becomes the error reply. They know nothing of frames or threads; ``host.py`` calls them one at a
time, in arrival order, from its dispatcher thread, except the security-key ceremonies
(:data:`CONCURRENT_METHODS`, ``api_fido.py``), which it runs on worker threads and which never take the
session's lock, and the security-key unlock, also on a worker, which takes the lock only to install the
vault once the key answered. The auto-lock watcher is the only other thread that touches the vault state,
always under the session's lock.

The vault (and with it ``cryptography``) is imported on first use, so ``hello`` stays cheap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from . import __version__
from .config import HostConfig, save_config, validate_auto_lock_seconds
from .errors import BadRequest, Cancelled, Tracker2faError, VaultLocked
from .pages import entries_page
from .params import bound_origin_param, entry_from_params, optional_str, origin_list_param, origin_param, required_str

TYPE_CHECKING = False  # typing itself costs ~2 ms of cold start; type checkers know this idiom

if TYPE_CHECKING:
    from typing import Any

    from .api_fido import FidoMethods
    from .vault import UnlockedVault

    EmitEvent = Callable[[dict[str, Any]], None]
    Params = dict[str, Any]

PROTOCOL_VERSION = 1
CAPABILITIES = ["vault", "settings", "cancel", "fido", "u2f", "vault_security_key"]
# Security keys (api_fido.py, imported on the first of these requests: the TOTP path never loads fido2).
FIDO_METHODS = frozenset({"fido.devices", "fido.create", "fido.get", "u2f.register", "u2f.sign", "fido.pin"})
# Methods the host runs on a worker thread of their own, off the ordered queue: they may wait for a touch.
# ("vault.unlock", "security_key") is vault.unlock with {"method": "security_key"}: it waits for a touch too.
CONCURRENT_METHODS = (FIDO_METHODS - {"fido.pin"}) | {("vault.unlock", "security_key")}


class UnknownMethod(Tracker2faError):
    """The host does not know this method."""

    code = "unknown_method"



# --- the session -------------------------------------------------------------------------------------------


class Session:
    """The state of one host process: the unlocked vault (or none), the settings, the auto-lock timer."""

    def __init__(
        self,
        config: HostConfig,
        emit: EmitEvent,
        *,
        vault_path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._emit = emit
        self._vault_path = vault_path
        self._clock = clock
        self._vault: UnlockedVault | None = None
        self._last_activity = clock()
        self._closed = False
        # One lock for all session state; the condition wakes the auto-lock watcher on every change.
        self._cond = threading.Condition(threading.RLock())
        self._watcher: threading.Thread | None = None
        self._fido: FidoMethods | None = None  # made on the first security-key request
        # vault.status's security keys: (the vault file's stat stamp, what its header lists), read again only
        # when the file changed (a status poll reads no file otherwise)
        self._key_slots_seen: tuple[tuple[int, ...], list[dict[str, str]] | None] | None = None
        from .fill_memory import FillMemory

        self._fill_memory = FillMemory()  # the last time step given per entry and site, in memory only
        self.methods: dict[str, Callable[[Params, threading.Event], dict[str, Any]]] = {
            "hello": self.hello,
            "vault.status": self.vault_status,
            "vault.unlock": self.vault_unlock,
            "vault.lock": self.vault_lock,
            "vault.entries": self.vault_entries,
            "vault.code": self.vault_code,
            "vault.copy_code": self.vault_copy_code,
            "vault.add": self.vault_add,
            "vault.update": self.vault_update,
            "vault.rename": self.vault_update,  # the name for an edit of issuer/account
            "vault.remove": self.vault_remove,
            "vault.bind": self.vault_bind,
            "vault.backup_code": self.vault_backup_code,
            "settings.get": self.settings_get,
            "settings.set": self.settings_set,
        }

    # -- plumbing

    def call(self, method: str, params: Params, cancelled: threading.Event, *, request_id: Any = None
             ) -> dict[str, Any]:
        """Run one request and return its result. Raises Tracker2faError for an error reply."""
        if method in FIDO_METHODS:
            return self._call_fido(method, params, cancelled, request_id)
        handler = self.methods.get(method)
        if handler is None:
            raise UnknownMethod(f"unknown method {method!r}")
        if cancelled.is_set():
            raise Cancelled("the request was cancelled before it started")
        if method == "vault.unlock" and params.get("method") == "security_key":
            return self._vault_unlock_by_key(cancelled, request_id)  # waits for a touch: not under the lock
        with self._cond:
            return handler(params, cancelled)

    def _call_fido(self, method: str, params: Params, cancelled: threading.Event, request_id: Any) -> dict[str, Any]:
        # Not under the session's lock: a ceremony waits for a touch while vault requests go on.
        if cancelled.is_set():
            from .fido.errors import Cancelled as FidoCancelled

            raise FidoCancelled("the request was cancelled before it started")
        return self._fido_methods().call(method, params, cancelled, request_id)

    def _fido_methods(self) -> FidoMethods:
        with self._cond:
            if self._fido is None:
                from .api_fido import FidoMethods

                self._fido = FidoMethods(self._emit)
            return self._fido

    def _vault_unlock_by_key(self, cancelled: threading.Event, request_id: Any) -> dict[str, Any]:
        """``vault.unlock {"method": "security_key"}``: touch an enrolled key (``fido.touch`` events; the
        request's cancel ends the wait). Runs on a worker thread of its own (CONCURRENT_METHODS), without the
        session's lock while the key waits."""
        vault = self._fido_methods().unlock_vault(self.vault_path, cancelled, request_id)
        with self._cond:
            return self._install_vault(vault, cancelled)

    @property
    def vault_path(self) -> Path:
        """The vault this host serves: ``$TRACKER2FA_VAULT`` or the per-user default."""
        if self._vault_path is None:
            from .vault import default_vault_path

            self._vault_path = Path(default_vault_path())
        return self._vault_path

    def _unlocked(self) -> UnlockedVault:
        """The unlocked vault, counting this as activity for the auto-lock timer."""
        if self._vault is not None and self._vault.locked:  # it locked itself: `vault passwd` elsewhere
            self._vault = None
        if self._vault is None:
            raise VaultLocked("the vault is locked; unlock it first")
        # No notify: activity only moves the deadline later, and the watcher re-checks it when it wakes.
        # Waking it on every request would cost a thread switch per request.
        self._last_activity = self._clock()
        return self._vault

    def _forget_vault(self) -> bool:
        vault, self._vault = self._vault, None
        if vault is None:
            return False
        try:
            vault.lock()
        finally:
            self._cond.notify_all()
        return True

    def _start_watcher(self) -> None:
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._auto_lock_loop, name="auto-lock", daemon=True)
            self._watcher.start()

    def _auto_lock_loop(self) -> None:
        with self._cond:
            while not self._closed:
                seconds = self.config.auto_lock_seconds
                if self._vault is None or seconds == 0:
                    self._cond.wait()
                    continue
                remaining = self._last_activity + seconds - self._clock()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                self._forget_vault()
                self._emit({"event": "vault.locked", "reason": "idle"})

    def close(self) -> None:
        """Forget the master key, stop the watcher, close the security keys (the host is exiting)."""
        with self._cond:
            self._closed = True
            self._forget_vault()
            self._cond.notify_all()
            fido, self._fido = self._fido, None
        if fido is not None:
            fido.close()

    # -- methods

    def hello(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``hello`` (see docs/protocol.md)."""
        from .framing import MAX_REPLY_BYTES, MAX_REQUEST_BYTES

        return {
            "version": __version__,
            "protocol": PROTOCOL_VERSION,
            "capabilities": list(CAPABILITIES),
            "limits": {"max_reply_bytes": MAX_REPLY_BYTES, "max_request_bytes": MAX_REQUEST_BYTES},
        }

    def vault_status(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``vault.status`` (see docs/protocol.md)."""
        from .vault import VaultFile

        entries = None
        if self._vault is not None:
            try:
                entries = len(self._vault.entries())
            except VaultLocked:  # it locked itself: the password was changed (`vault passwd`) elsewhere
                self._vault = None
        return {
            "exists": VaultFile(self.vault_path).exists(),
            "unlocked": self._vault is not None,
            "path": str(self.vault_path),
            "entries": entries,
            "auto_lock_seconds": self.config.auto_lock_seconds,
            "security_keys": self._security_keys(),
        }

    def _security_keys(self) -> list[dict[str, str]] | None:
        """The vault's security-key (fido2-prf) slots as the header records them, ``{"id", "name"}`` each
        (never the credential, the salt or the wrapped key), read without the password; None when there is no
        vault file or it cannot be read."""
        import os

        try:
            info = os.stat(self.vault_path)
        except OSError:
            self._key_slots_seen = None
            return None
        stamp = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        if self._key_slots_seen is None or self._key_slots_seen[0] != stamp:
            from .errors import VaultError
            from .vault import store
            from .vault.format import parse_vault

            try:
                header_slots = parse_vault(store.read_vault_bytes(self.vault_path)).key_slots()
                slots: list[dict[str, str]] | None = [{"id": s["id"], "name": s["name"]} for s in header_slots]
            except (VaultError, OSError):  # damaged, tampered, newer, gone: vault.unlock says which
                slots = None
            self._key_slots_seen = (stamp, slots)
        slots = self._key_slots_seen[1]
        return None if slots is None else [dict(slot) for slot in slots]

    def vault_unlock(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``vault.unlock`` (see docs/protocol.md); ``"method": "security_key"`` is :meth:`_vault_unlock_by_key`."""
        if params.get("method", "password") != "password":
            raise BadRequest("parameter 'method' must be \"password\" (the default) or \"security_key\"")
        password = params.get("password")
        if not isinstance(password, str) or not password:
            raise BadRequest("parameter 'password' must be a non-empty string")
        from .vault import VaultFile

        return self._install_vault(VaultFile(self.vault_path).unlock(password), cancelled)

    def _install_vault(self, vault: UnlockedVault, cancelled: threading.Event) -> dict[str, Any]:
        if cancelled.is_set():  # the user gave up while the KDF ran (or the key was touched): do not keep the key
            vault.lock()
            raise Cancelled("the unlock was cancelled")
        self._forget_vault()
        self._vault = vault
        self._start_watcher()
        self._emit({"event": "vault.unlocked"})  # lets every view of this port update (e.g. a badge)
        return {"unlocked": True, "entries": len(self._unlocked().entries())}

    def vault_lock(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``vault.lock`` (see docs/protocol.md)."""
        if self._forget_vault():
            self._emit({"event": "vault.locked", "reason": "request"})
        return {"unlocked": False}

    def vault_entries(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``vault.entries`` (see docs/protocol.md)."""
        offset = params.get("offset", 0)
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise BadRequest("parameter 'offset' must be a whole number, 0 or more")
        vault = self._unlocked()
        # Without an origin: every entry, for the extension's own popup.
        entries = vault.entries() if params.get("origin") is None else vault.entries_for_origin(origin_param(params))
        return entries_page(entries, offset)

    def vault_code(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``vault.code`` (see docs/protocol.md)."""
        entry_id = required_str(params, "id", max_len=256)
        origin = origin_param(params)  # required: a page may only get the code of an entry bound to it
        ahead = params.get("ahead", False)
        if not isinstance(ahead, bool):
            raise BadRequest("parameter 'ahead' must be true or false")
        from .fill_memory import page_code_reply  # never a used code twice for one site (issue 12)

        return page_code_reply(self._unlocked(), self._fill_memory, entry_id, origin, ahead=ahead)

    def vault_copy_code(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``vault.copy_code`` (see docs/protocol.md)."""
        # For an explicit copy in the extension's own popup: no page is involved, so no origin.
        entry_id = required_str(params, "id", max_len=256)
        vault = self._unlocked()
        code, expires_in = vault.code(entry_id, None)
        return {"code": code, "expires_in": expires_in, "period": vault.get(entry_id).period}

    def vault_add(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``vault.add`` (see docs/protocol.md)."""
        from .origins import bindable_origin

        origins = [bindable_origin(o) for o in origin_list_param(params) or []]  # all new bindings
        if params.get("uri") is not None:
            if params.get("entry") is not None:
                raise BadRequest("give either 'uri' or 'entry', not both")
            from .vault.otpauth import parse_otpauth_uri

            entry = parse_otpauth_uri(required_str(params, "uri", max_len=8192))
        elif params.get("entry") is not None:
            entry = entry_from_params(params["entry"])
        else:
            raise BadRequest("vault.add needs 'uri' (an otpauth:// URI) or 'entry' (an object)")
        entry.origins = list(dict.fromkeys([*entry.origins, *(str(o) for o in origins)]))
        vault = self._unlocked()
        if cancelled.is_set():
            raise Cancelled("the add was cancelled")
        return {"entry": vault.add(entry).public_dict()}

    def vault_update(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``vault.update`` (see docs/protocol.md)."""
        from .vault.entry import MAX_FIELD_LENGTH

        entry_id = required_str(params, "id", max_len=256)
        fields: dict[str, Any] = {}
        for name in ("issuer", "account", "note"):
            value = optional_str(params, name, max_len=MAX_FIELD_LENGTH[name])
            if value is not None:
                fields[name] = value
        origins = origin_list_param(params)
        if origins is not None:
            fields["origins"] = origins
        if not fields:
            raise BadRequest("nothing to change: give 'issuer', 'account', 'note' or 'origins'")
        vault = self._unlocked()
        if origins is not None:  # a new binding must be one a site can have; those already there may stay
            from .origins import bindable_origin

            bound = set(vault.get(entry_id).origins)
            for origin in origins:
                if str(origin) not in bound:
                    bindable_origin(origin)
        return {"entry": vault.update(entry_id, **fields).public_dict()}

    def vault_remove(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``vault.remove`` (see docs/protocol.md)."""
        entry_id = required_str(params, "id", max_len=256)
        self._unlocked().remove(entry_id)
        return {}

    def vault_bind(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``vault.bind`` (see docs/protocol.md)."""
        entry_id = required_str(params, "id", max_len=256)
        origin = bound_origin_param(params)
        return {"entry": self._unlocked().bind_origin(entry_id, origin).public_dict()}

    def vault_backup_code(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``vault.backup_code`` (see docs/protocol.md)."""
        entry_id = required_str(params, "id", max_len=256)
        origin = origin_param(params)
        code, remaining = self._unlocked().take_backup_code(entry_id, origin)
        return {"code": code, "remaining": remaining}

    def settings_get(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``settings.get`` (see docs/protocol.md)."""
        return {"auto_lock_seconds": self.config.auto_lock_seconds}

    def settings_set(self, params: Params, cancelled: threading.Event) -> dict[str, Any]:
        """``settings.set`` (see docs/protocol.md)."""
        if "auto_lock_seconds" not in params:
            raise BadRequest("settings.set needs 'auto_lock_seconds'")
        seconds = validate_auto_lock_seconds(params["auto_lock_seconds"])
        previous = self.config.auto_lock_seconds
        self.config.auto_lock_seconds = seconds
        try:
            save_config(self.config)
        except OSError as exc:
            self.config.auto_lock_seconds = previous
            raise Tracker2faError(f"cannot save the setting ({exc.strerror})") from None
        self._cond.notify_all()
        return {"auto_lock_seconds": seconds}
