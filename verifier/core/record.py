"""Field access by name for the verifier's typed results (frozen dataclasses).

Callers written against the plain dicts the verifier used to return (the mock's pages, the CLI's JSON
output, older tests) read ``result["totp"]`` or ``result.get("mode")``; new code reads attributes. This
mixin keeps both working while those callers move to attributes, and gives every result ``to_dict()``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar


class Record:
    """Read-only mapping access to a dataclass's fields; mix into ``@dataclass(frozen=True)`` classes."""

    _record_fields: ClassVar[tuple[str, ...] | None] = None

    def keys(self) -> tuple[str, ...]:
        """The field names, in declaration order."""
        cls = type(self)
        names = cls.__dict__.get("_record_fields")
        if names is None:  # computed once per class, after @dataclass has run
            names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
            cls._record_fields = names
        return names

    def __getitem__(self, name: str) -> Any:
        if name not in self.keys():
            raise KeyError(name)
        return getattr(self, name)

    def __contains__(self, name: object) -> bool:
        return name in self.keys()

    def get(self, name: str, default: Any = None) -> Any:
        """The field's value, or ``default`` when there is no such field."""
        return getattr(self, name) if name in self.keys() else default

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (lists stay lists; nothing is deep-copied)."""
        return {name: getattr(self, name) for name in self.keys()}
