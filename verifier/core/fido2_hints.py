"""python-fido2's data classes read their type annotations once per class here, not once per object.

Each ``AuthenticationResponse`` fido2 builds calls ``typing.get_type_hints`` on its class (and on the nested
``AuthenticatorAssertionResponse``), which compiles every annotation string again: measured at about a
third of the server's CPU for one assertion. The hints are a function of the class alone, fixed once its
module is imported, so :func:`install` makes fido2 look them up in a per-class cache; every result is the
same object fido2 computed the first time (tests/verifier/test_fido2_hints.py).

The host has its own, larger set of such caches (native_host/fido/fido2_caches.py); the verifier does not
import the host, so it keeps this one small piece itself.
"""

from __future__ import annotations

import functools
import typing
from typing import Any


@functools.lru_cache(maxsize=256)
def _hints_of_class(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _get_type_hints(obj: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    if args or kwargs or not isinstance(obj, type):
        return typing.get_type_hints(obj, *args, **kwargs)
    return _hints_of_class(obj)  # fido2.utils only reads the dict it gets back


def install() -> None:
    """Idempotent. Only where fido2.utils calls typing's own function, as checked here; otherwise (another
    fido2, or someone else's cache already in place) fido2 runs as it is."""
    import fido2.utils

    if getattr(fido2.utils, "get_type_hints", None) is typing.get_type_hints:
        fido2.utils.get_type_hints = _get_type_hints  # type: ignore[attr-defined]
