"""Checks of a request's ``params``: each names the parameter and the type it wants (``bad_request``).

The page's origin is parsed here, once, into an :class:`~native_host.origins.Origin` that the methods carry
inward. Used by the method table (``api.py``, ``api_fido.py``); no I/O.
"""

from __future__ import annotations

from .errors import BadRequest

TYPE_CHECKING = False  # typing itself costs ~2 ms of cold start; type checkers know this idiom
if TYPE_CHECKING:
    from typing import Any

    from .origins import Origin
    from .vault.entry import Entry

    Params = dict[str, Any]


def required_str(params: Params, name: str, *, max_len: int = 4096) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"parameter {name!r} must be a non-empty string")
    if len(value) > max_len:
        raise BadRequest(f"parameter {name!r} is longer than {max_len} characters")
    return value


def optional_str(params: Params, name: str, *, max_len: int = 4096) -> str | None:
    if params.get(name) is None:
        return None
    value = params[name]
    if not isinstance(value, str):
        raise BadRequest(f"parameter {name!r} must be a string")
    if len(value) > max_len:
        raise BadRequest(f"parameter {name!r} is longer than {max_len} characters")
    return value


def origin_param(params: Params, name: str = "origin") -> Origin:
    """The page's origin, parsed here once and handed inward as an :class:`Origin`."""
    from .origins import Origin

    return Origin.parse(required_str(params, name, max_len=2048))


def bound_origin_param(params: Params, name: str = "origin") -> Origin:
    """An origin to bind an entry to: the browser's rules, and what a site can be (``origins.bindable_origin``)."""
    from .origins import bindable_origin

    return bindable_origin(required_str(params, name, max_len=2048))


def origin_list_param(params: Params, name: str = "origins") -> list[Origin] | None:
    from .origins import Origin

    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(o, str) for o in value):
        raise BadRequest(f"parameter {name!r} must be a list of origin strings")
    from .vault.entry import MAX_ORIGINS

    if len(value) > MAX_ORIGINS:
        raise BadRequest(f"parameter {name!r} may hold at most {MAX_ORIGINS} origins")
    return list(dict.fromkeys(Origin.parse(o) for o in value))  # canonical, duplicates dropped


_ENTRY_FIELDS: dict[str, type] = {
    "secret": str,
    "issuer": str,
    "account": str,
    "kind": str,
    "algorithm": str,
    "digits": int,
    "period": int,
    "counter": int,
    "note": str,
}


def entry_from_params(data: object) -> Entry:
    """Build an Entry from the ``entry`` object of ``vault.add``, checking every field's type and size."""
    from .vault.entry import MAX_FIELD_LENGTH, Entry, typed_secret

    if not isinstance(data, dict):
        raise BadRequest("parameter 'entry' must be an object")
    fields: dict[str, Any] = {}
    for key, value in data.items():
        want = _ENTRY_FIELDS.get(key)
        if want is None:
            raise BadRequest(f"unknown entry field {key!r}; allowed: {', '.join(_ENTRY_FIELDS)}")
        if isinstance(value, bool) or not isinstance(value, want):
            raise BadRequest(f"entry field {key!r} must be {'an integer' if want is int else 'a string'}")
        if want is str and len(value) > MAX_FIELD_LENGTH.get(key, 0):  # the vault checks again; fail early
            raise BadRequest(f"entry field {key!r} is longer than {MAX_FIELD_LENGTH[key]} characters")
        fields[key] = value
    if "secret" not in fields:
        raise BadRequest("entry field 'secret' is required")
    fields["secret"] = typed_secret(fields["secret"])  # typed or pasted in the popup: not cut short
    try:
        return Entry(**fields)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"invalid entry: {exc}") from None
