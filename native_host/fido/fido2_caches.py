"""Cache what python-fido2 derives again from a class for every object it builds: not the work of a ceremony.

python-fido2's WebAuthn/CTAP data classes (options, descriptors, getInfo, responses):
- call ``typing.get_type_hints(cls)`` every time one is built or parsed, and with postponed annotations
  that compiles every annotation string again: about half of a warm assertion's CPU time on the
  software key;
- number a CTAP2 map's fields with ``fields(cls).index(field) + 1`` for each field, so parsing a getInfo
  (31 fields) walks the field list about a thousand times: python-fido2's client reads getInfo twice per
  assertion, and once more when it is built.
Both are functions of the class alone, fixed once its module is imported, so ``install()`` makes python-fido2
compute each once per class. Every result is the same (tests/fido/test_warm_path_caches.py checks it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import typing
from collections.abc import Iterator
from typing import Any


@functools.lru_cache(maxsize=512)
def _hints_of_class(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _get_type_hints(obj: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    if args or kwargs or not isinstance(obj, type):
        return typing.get_type_hints(obj, *args, **kwargs)
    return _hints_of_class(obj)  # read-only in fido2.utils: the cached dict is never modified there


@functools.lru_cache(maxsize=512)
def _cbor_keys_of_class(cls: type) -> dict[str, int]:
    return {f.name: number for number, f in enumerate(dataclasses.fields(cls), 1)}


def cbor_field_key(cls: type, field: dataclasses.Field) -> int:
    """The CBOR map key of ``field`` in ``cls``: its 1-based position, as python-fido2 numbers it."""
    return _cbor_keys_of_class(cls)[field.name]


_SHIPPED: dict[str, Any] = {}  # python-fido2's own functions, kept by install() for shipped_behaviour()


def install() -> None:
    """Idempotent; call before the first ceremony (the ceremonies and discovery do it on import)."""
    import fido2.utils
    from fido2.ctap2 import base

    # Only the python-fido2 internals these caches were checked against; anything else runs as shipped.
    if not hasattr(fido2.utils, "get_type_hints") or "_get_field_key" not in base._CborDataObject.__dict__:
        return
    if fido2.utils.get_type_hints is not _get_type_hints:
        _SHIPPED.setdefault("get_type_hints", fido2.utils.get_type_hints)
        fido2.utils.get_type_hints = _get_type_hints  # type: ignore[attr-defined]
    if "_get_field_key" not in _SHIPPED:
        _SHIPPED["_get_field_key"] = base._CborDataObject.__dict__["_get_field_key"]
        base._CborDataObject._get_field_key = classmethod(cbor_field_key)  # type: ignore[method-assign,assignment]


@contextlib.contextmanager
def shipped_behaviour() -> Iterator[None]:
    """python-fido2 without these caches for the duration (benchmarks and tests compare against it)."""
    import fido2.utils
    from fido2.ctap2 import base

    install()
    if "_get_field_key" not in _SHIPPED:  # not installed on this python-fido2: already as shipped
        yield
        return
    fido2.utils.get_type_hints = _SHIPPED["get_type_hints"]  # type: ignore[attr-defined]
    base._CborDataObject._get_field_key = _SHIPPED["_get_field_key"]  # type: ignore[method-assign]
    try:
        yield
    finally:
        fido2.utils.get_type_hints = _get_type_hints  # type: ignore[attr-defined]
        base._CborDataObject._get_field_key = classmethod(cbor_field_key)  # type: ignore[method-assign,assignment]
