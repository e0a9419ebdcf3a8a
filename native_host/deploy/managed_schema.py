"""The extension's managed settings: read ``extension/managed_schema.json`` and validate an admin's settings.

``extension/managed_schema.json`` is the single source of the settings an admin may push; every policy
generator reads it. It uses the subset of JSON Schema that Chrome accepts for ``storage.managed_schema``
(``type``, ``properties``, ``items``, ``additionalProperties``, ``required``, ``enum``). Settings that do not
fit are refused with every problem listed, so an admin never ships a policy the browser silently drops.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .manifest import DeployError

_REPO_EXTENSION = Path(__file__).resolve().parents[2] / "extension"


def extension_dir() -> Path:
    """The extension's source folder in this checkout."""
    return _REPO_EXTENSION


def load_schema(path: Path | None = None) -> dict[str, Any]:
    """The managed-settings schema (default: the extension's own ``managed_schema.json``)."""
    path = path or extension_dir() / "managed_schema.json"
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployError(f"no managed-settings schema at {path}; pass --schema FILE") from None
    except (OSError, ValueError) as exc:
        raise DeployError(f"the managed-settings schema {path} is unreadable: {exc}") from None
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise DeployError(f"the managed-settings schema {path} must describe a JSON object")
    return schema


_TYPES = {
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def settings_errors(value: Any, schema: dict[str, Any], where: str = "settings") -> list[str]:
    """Every way ``value`` does not fit ``schema`` (empty: it fits). Unknown object keys are errors."""
    kind = schema.get("type")
    check = _TYPES.get(kind)
    if check is None:
        return [f"{where}: the schema has an unsupported type {kind!r}"]
    if not check(value):
        return [f"{where} must be {'an' if kind[0] in 'aeiou' else 'a'} {kind}, not {type(value).__name__}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where} must be one of {schema['enum']}, not {value!r}")
    if kind == "array":
        items = schema.get("items", {})
        for i, item in enumerate(value):
            errors.extend(settings_errors(item, items, f"{where}[{i}]"))
    elif kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                errors.extend(settings_errors(item, properties[key], f"{where}.{key}"))
            elif isinstance(extra, dict):
                errors.extend(settings_errors(item, extra, f"{where}.{key}"))
            else:
                known = ", ".join(sorted(properties)) or "none"
                errors.append(f"{where}: unknown setting {key!r} (known: {known})")
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: missing required setting {key!r}")
    return errors


def validate_settings(settings: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """Return ``settings`` if it fits ``schema``; else raise DeployError listing every problem."""
    errors = settings_errors(settings, schema)
    if errors:
        raise DeployError("the managed settings do not fit extension/managed_schema.json: " + "; ".join(errors))
    return settings


def load_settings(path: Path, schema: dict[str, Any]) -> dict[str, Any]:
    """Read and validate a settings file (a JSON object of managed settings)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployError(f"no settings file at {path}") from None
    except (OSError, ValueError) as exc:
        raise DeployError(f"the settings file {path} is not valid JSON: {exc}") from None
    return validate_settings(data, schema)
