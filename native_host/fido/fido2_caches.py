"""Cache python-fido2's type-hint lookups: the largest cost of a warm ceremony that is not the work.

python-fido2's WebAuthn/CTAP data classes (options, descriptors, getInfo, responses) call
``typing.get_type_hints(cls)`` every time one is built or parsed, and with postponed annotations that
compiles every annotation string again: about half of a warm assertion's CPU time on the software key.
The hints of a class never change after its module is imported, so ``install()`` makes
``fido2.utils`` look them up once per class. Every other behaviour of python-fido2 is unchanged.
"""

from __future__ import annotations

import functools
import typing
from typing import Any


@functools.lru_cache(maxsize=512)
def _hints_of_class(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _get_type_hints(obj: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    if args or kwargs or not isinstance(obj, type):
        return typing.get_type_hints(obj, *args, **kwargs)
    return _hints_of_class(obj)  # read-only in fido2.utils: the cached dict is never modified there


def install() -> None:
    """Idempotent; call before the first ceremony (the ceremonies and discovery do it on import)."""
    import fido2.utils

    if fido2.utils.get_type_hints is not _get_type_hints:
        fido2.utils.get_type_hints = _get_type_hints  # type: ignore[attr-defined]
