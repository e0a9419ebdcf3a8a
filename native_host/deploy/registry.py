"""The Windows registry behind one small interface: the real ``winreg`` and an in-memory fake for tests.

Only what deployment needs: string values (a host key's default value is the manifest path), creating and
deleting keys, and reading values and sub-keys (policies). Keys are named without the hive, e.g.
``SOFTWARE\\Google\\Chrome\\NativeMessagingHosts\\dev.tracker2fa.host``.

Views: on 64-bit Windows, ``HKLM\\SOFTWARE`` has a 64-bit and a 32-bit (``WOW6432Node``) view; 32-bit
browsers read the second. ``HKCU\\SOFTWARE`` is shared by both. ``view`` is ``"64"``, ``"32"`` or ``None``
(the caller's default view).
"""

from __future__ import annotations

from typing import Any, Protocol

HIVES = ("HKCU", "HKLM")
VIEWS = (None, "64", "32")


class Registry(Protocol):
    """What deployment reads and writes in the registry."""

    def key_exists(self, hive: str, key: str, view: str | None = None) -> bool: ...

    def get_value(self, hive: str, key: str, name: str = "", view: str | None = None) -> Any | None:
        """The value ``name`` ("" is the default value) of ``key``, or None when the key or value is absent."""
        ...

    def set_value(self, hive: str, key: str, name: str, value: str, view: str | None = None) -> None:
        """Set a REG_SZ value, creating ``key`` and its missing parents."""
        ...

    def delete_key(self, hive: str, key: str, view: str | None = None) -> None:
        """Delete ``key``, which must have no sub-keys (its values go with it)."""
        ...

    def values(self, hive: str, key: str, view: str | None = None) -> dict[str, Any]: ...

    def subkeys(self, hive: str, key: str, view: str | None = None) -> list[str]: ...


def parent_keys(key: str) -> list[str]:
    """``A\\B\\C`` → ``["A", "A\\B", "A\\B\\C"]``: the key and every ancestor, outermost first."""
    parts = key.split("\\")
    return ["\\".join(parts[: i + 1]) for i in range(len(parts))]


class FakeRegistry:
    """An in-memory registry with Windows' rules: case-insensitive names, HKLM views, HKCU shared."""

    def __init__(self) -> None:
        # (hive, view, lower-cased key) -> (key as first written, {lower-cased name: (name, value)})
        self._keys: dict[tuple[str, str, str], tuple[str, dict[str, tuple[str, Any]]]] = {}

    @staticmethod
    def _view(hive: str, view: str | None) -> str:
        if hive not in HIVES:
            raise ValueError(f"unknown hive {hive!r}")
        if view not in VIEWS:
            raise ValueError(f"unknown registry view {view!r}")
        # HKCU\SOFTWARE is not redirected; the default view of a 64-bit process is the 64-bit one.
        return "shared" if hive == "HKCU" else (view or "64")

    def _slot(self, hive: str, key: str, view: str | None) -> tuple[str, str, str]:
        return (hive, self._view(hive, view), key.lower())

    def key_exists(self, hive: str, key: str, view: str | None = None) -> bool:
        return self._slot(hive, key, view) in self._keys

    def get_value(self, hive: str, key: str, name: str = "", view: str | None = None) -> Any | None:
        entry = self._keys.get(self._slot(hive, key, view))
        if entry is None:
            return None
        found = entry[1].get(name.lower())
        return None if found is None else found[1]

    def set_value(self, hive: str, key: str, name: str, value: Any, view: str | None = None) -> None:
        for k in parent_keys(key):
            self._keys.setdefault(self._slot(hive, k, view), (k, {}))
        self._keys[self._slot(hive, key, view)][1][name.lower()] = (name, value)

    def delete_key(self, hive: str, key: str, view: str | None = None) -> None:
        slot = self._slot(hive, key, view)
        if slot not in self._keys:
            raise FileNotFoundError(f"{hive}\\{key}")
        if self.subkeys(hive, key, view):
            raise OSError(f"{hive}\\{key} has sub-keys")
        del self._keys[slot]

    def values(self, hive: str, key: str, view: str | None = None) -> dict[str, Any]:
        entry = self._keys.get(self._slot(hive, key, view))
        return {} if entry is None else {name: value for name, value in entry[1].values()}

    def subkeys(self, hive: str, key: str, view: str | None = None) -> list[str]:
        h, v, lower = self._slot(hive, key, view)
        prefix = lower + "\\"
        return sorted(
            {
                original.split("\\")[lower.count("\\") + 1]
                for (kh, kv, k), (original, _) in self._keys.items()
                if kh == h and kv == v and k.startswith(prefix)
            }
        )

    def dump(self) -> dict[str, dict[str, Any]]:
        """Every key with its values, as ``{"HKLM[64]\\KEY": {name: value}}`` (for test assertions)."""
        return {f"{h}[{v}]\\{original}": dict(vals.values()) for (h, v, _), (original, vals) in self._keys.items()}


class WinRegistry:  # pragma: no cover - exercised on Windows only; FakeRegistry mirrors its behaviour
    """The real registry through ``winreg``."""

    def __init__(self) -> None:
        import winreg  # type: ignore[import-not-found]

        self._w = winreg

    def _open(self, hive: str, key: str, view: str | None, access: int) -> Any:
        w = self._w
        root = {"HKCU": w.HKEY_CURRENT_USER, "HKLM": w.HKEY_LOCAL_MACHINE}[hive]
        flags = {None: 0, "64": w.KEY_WOW64_64KEY, "32": w.KEY_WOW64_32KEY}[view]
        return w.OpenKey(root, key, 0, access | flags)

    def key_exists(self, hive: str, key: str, view: str | None = None) -> bool:
        try:
            self._open(hive, key, view, self._w.KEY_READ).Close()
        except FileNotFoundError:
            return False
        return True

    def get_value(self, hive: str, key: str, name: str = "", view: str | None = None) -> Any | None:
        try:
            with self._open(hive, key, view, self._w.KEY_READ) as handle:
                return self._w.QueryValueEx(handle, name)[0]
        except FileNotFoundError:
            return None

    def set_value(self, hive: str, key: str, name: str, value: str, view: str | None = None) -> None:
        w = self._w
        root = {"HKCU": w.HKEY_CURRENT_USER, "HKLM": w.HKEY_LOCAL_MACHINE}[hive]
        flags = {None: 0, "64": w.KEY_WOW64_64KEY, "32": w.KEY_WOW64_32KEY}[view]
        with w.CreateKeyEx(root, key, 0, w.KEY_WRITE | flags) as handle:
            w.SetValueEx(handle, name, 0, w.REG_SZ, value)

    def delete_key(self, hive: str, key: str, view: str | None = None) -> None:
        w = self._w
        root = {"HKCU": w.HKEY_CURRENT_USER, "HKLM": w.HKEY_LOCAL_MACHINE}[hive]
        flags = {None: 0, "64": w.KEY_WOW64_64KEY, "32": w.KEY_WOW64_32KEY}[view]
        w.DeleteKeyEx(root, key, flags, 0)

    def values(self, hive: str, key: str, view: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            with self._open(hive, key, view, self._w.KEY_READ) as handle:
                i = 0
                while True:
                    try:
                        name, value, _ = self._w.EnumValue(handle, i)
                    except OSError:
                        return out
                    out[name] = value
                    i += 1
        except FileNotFoundError:
            return out

    def subkeys(self, hive: str, key: str, view: str | None = None) -> list[str]:
        out: list[str] = []
        try:
            with self._open(hive, key, view, self._w.KEY_READ) as handle:
                i = 0
                while True:
                    try:
                        out.append(self._w.EnumKey(handle, i))
                    except OSError:
                        return out
                    i += 1
        except FileNotFoundError:
            return out


def system_registry() -> Registry:
    """The real registry (Windows only)."""
    return WinRegistry()
