"""Never hand a page the code it was just given: the last TOTP time step filled, per entry and origin.

A tracker accepts each code once (RFC 6238 §5.2), so a second login within the same 30 s with the same code
fails with "already used". The host remembers, in memory only (never in the vault file; a lock forgets it),
which step it last gave each (entry, origin); asked again within that step, the reply says so and when the
next code exists, and the extension waits for that one instead of filling the used one.
"""

from __future__ import annotations

import math
import threading
import time

TYPE_CHECKING = False  # typing itself costs ~2 ms of cold start; type checkers know this idiom
if TYPE_CHECKING:
    from typing import Any

    from .origins import Origin
    from .vault import UnlockedVault

# Pairs remembered before old steps are forgotten (one per entry and site: a handful in practice).
MAX_REMEMBERED = 4096


class FillMemory:
    """The last time step handed out per ``(entry id, origin)``; thread-safe, in memory only."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._unlock_token: int | None = None

    def for_unlock(self, token: int) -> None:
        """Forget everything when the vault was locked and unlocked again (a new session starts clean)."""
        with self._lock:
            if token != self._unlock_token:
                self._last.clear()
                self._unlock_token = token

    def last_step(self, entry_id: str, origin: str) -> int | None:
        with self._lock:
            return self._last.get((entry_id, origin))

    def claim(self, entry_id: str, origin: str, step: int) -> int | None:
        """Record ``step`` as given unless it (or a later one) already was; returns the step that blocks it.

        None means the step was free and is now taken. Check and record are one atomic act, so two
        requests racing for the same step never both get the code.
        """
        key = (entry_id, origin)
        with self._lock:
            last = self._last.get(key)
            if last is not None and last >= step:
                return last
            self._last[key] = step
            if len(self._last) > MAX_REMEMBERED:
                # Anything more than one step behind this one can no longer block a fill.
                self._last = {k: v for k, v in self._last.items() if v >= step - 1}
            return None


def page_code_reply(
    vault: UnlockedVault,
    memory: FillMemory,
    entry_id: str,
    origin: Origin,
    *,
    ahead: bool = False,
    now: float | None = None,
) -> dict[str, Any]:
    """The ``vault.code`` result for a page (see docs/protocol.md).

    ``ahead``: the tracker accepts the next step's code, so that one is given at once. When the step to
    give was already given to this (entry, origin), ``just_used`` is true and ``next_in`` says in how many
    seconds a fresh code exists (``code`` is then the used one, which a client must not fill).
    """
    at = time.time() if now is None else now
    entry = vault.get(entry_id)  # raises EntryNotFound
    if entry.kind == "hotp":  # counter based: every code is a new one
        code, expires_in = vault.code(entry_id, origin)
        return {"code": code, "expires_in": expires_in, "period": entry.period, "step": None,
                "just_used": False, "next_in": 0}
    period = entry.period
    shift = period if ahead else 0
    step = int((at + shift) // period)
    # The origin check (and entry lookup) happens here, before anything is remembered or refused.
    code, expires_in = vault.code(entry_id, origin, now=at + shift)
    memory.for_unlock(id(vault))  # each unlock makes a new UnlockedVault
    blocking = memory.claim(entry_id, str(origin), step)
    if blocking is not None:
        # The next fresh code is step blocking+1; with `ahead` it is accepted one period before its time.
        next_in = max(1, math.ceil((blocking + 1) * period - shift - at))
        # The used code stays in the reply (older clients read only `code`); the extension never fills it.
        return {"code": code, "expires_in": expires_in + shift, "period": period, "step": step, "just_used": True,
                "next_in": next_in}
    # A code one step ahead stays acceptable for the rest of this step and all of the next.
    return {"code": code, "expires_in": expires_in + shift, "period": period, "step": step, "just_used": False,
            "next_in": 0}
