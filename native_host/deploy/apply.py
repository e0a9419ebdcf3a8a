"""Apply an install plan, and undo exactly what installs wrote.

Every install records what it wrote in a receipt (``install-receipt.json`` beside the host configuration):
the files, the folders and registry keys it had to create, and for each the browsers that need it. An
uninstall for some browsers drops them from each item and removes only the items no browser needs any
more, so a folder that existed before the install, or a manifest folder shared with another browser, stays.

A receipt is only a hint that narrows what an uninstall removes: the candidates are recomputed from the
layout for the scope and browsers (their manifests and registry keys, the host configuration, the launcher,
the receipt, and the folders above them), and a receipt item outside them is ignored. A receipt that is
neither root's nor the current user's is not read at all (another user could have written it).

Receipt format (version 1)::

    {"version": 1, "items": [{"kind": "file" | "dir" | "key", "path": "...",
                              "hive": "HKLM", "view": "64", "browsers": ["chrome", ...]}, ...]}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from .. import HOST_NAME
from ..atomic import write_file_atomically
from .browsers import Browser
from .layouts import (
    custom_profile_location,
    launcher_paths,
    manifest_locations,
    receipt_path,
    system_config_path,
)
from .manifest import DeployError
from .plan import FileWrite, Plan, owner_name
from .platforms import TargetOS
from .registry import Registry, parent_keys

RECEIPT_VERSION = 1


@dataclass
class Receipt:
    """What installs in one scope wrote, keyed by item, with the browsers needing each."""

    items: dict[tuple[str, str, str, str], set[str]] = field(default_factory=dict)

    @staticmethod
    def file_slot(kind: str, path: PurePath | str) -> tuple[str, str, str, str]:
        return (kind, str(path), "", "")

    @staticmethod
    def key_slot(hive: str, key: str, view: str | None) -> tuple[str, str, str, str]:
        return ("key", key, hive, view or "")

    def add(self, slot: tuple[str, str, str, str], browsers: list[str]) -> None:
        self.items.setdefault(slot, set()).update(browsers)

    def to_json(self) -> dict[str, Any]:
        items = []
        for (kind, path, hive, view), browsers in sorted(self.items.items()):
            item: dict[str, Any] = {"kind": kind, "path": path, "browsers": sorted(browsers)}
            if kind == "key":
                item.update(hive=hive, view=view or None)
            items.append(item)
        return {"version": RECEIPT_VERSION, "items": items}

    @classmethod
    def from_json(cls, data: Any) -> Receipt:
        if not isinstance(data, dict) or data.get("version") != RECEIPT_VERSION:
            raise DeployError("the install receipt is not a version-1 receipt")
        receipt = cls()
        items = data.get("items", [])
        if not isinstance(items, list):
            raise DeployError("the install receipt's items are not a list")
        for item in items:
            if not isinstance(item, dict):
                raise DeployError(f"the install receipt has a malformed item: {item!r}")
            kind, path, browsers = item.get("kind"), item.get("path"), item.get("browsers")
            hive, view = item.get("hive"), item.get("view")
            if (
                kind not in ("file", "dir", "key")
                or not isinstance(path, str)
                or not isinstance(browsers, list)
                or not all(isinstance(b, str) for b in browsers)
                or (kind == "key" and (hive not in ("HKCU", "HKLM") or view not in (None, "", "64", "32")))
            ):
                raise DeployError(f"the install receipt has a malformed item: {item!r}")
            slot = cls.key_slot(hive, path, view) if kind == "key" else cls.file_slot(kind, path)
            receipt.add(slot, browsers)
        return receipt


def load_receipt(target: TargetOS, path: PurePath) -> Receipt:
    disk = target.on_disk(path)
    try:
        return Receipt.from_json(json.loads(disk.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return Receipt()
    except (OSError, ValueError) as exc:
        raise DeployError(f"cannot read the install receipt {disk}: {exc}; remove it and install again") from None
    except DeployError as exc:
        raise DeployError(f"{disk}: {exc.message}; remove it and install again") from None


def receipt_owner_problem(target: TargetOS, path: PurePath) -> str | None:
    """Why the receipt at ``path`` must not be believed (None when it is root's or this user's, or absent)."""
    if target.is_windows or not hasattr(os, "geteuid"):
        return None
    disk = target.on_disk(path)
    try:
        owner = disk.lstat().st_uid
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"the install receipt {disk} cannot be checked ({exc.strerror or exc})"
    if owner in (0, os.geteuid()):
        return None
    from .trust import user_name

    return (
        f"ignored the install receipt {disk}: it belongs to {user_name(owner)}, not to root or to you, so it could "
        "name anything; only tracker2fa's own manifests were looked for"
    )


def load_trusted_receipt(target: TargetOS, path: PurePath) -> tuple[Receipt, str | None]:
    """The receipt at ``path``, or an empty one with the reason when its owner is not root or this user."""
    problem = receipt_owner_problem(target, path)
    if problem is not None:
        return Receipt(), problem
    return load_receipt(target, path), None


def save_receipt(target: TargetOS, path: PurePath, receipt: Receipt) -> None:
    disk = target.on_disk(path)
    if not receipt.items:
        disk.unlink(missing_ok=True)
        return
    write_file_atomically(disk, (json.dumps(receipt.to_json(), indent=2) + "\n").encode(), 0o644)


def _missing_dirs(disk: Path) -> list[Path]:
    """The folders above ``disk`` that do not exist yet, outermost first."""
    missing = []
    for parent in disk.parents:
        if parent.exists():
            break
        missing.append(parent)
    return list(reversed(missing))


def _target_path(target: TargetOS, disk: Path) -> PurePath:
    """The target path of an on-disk path (the inverse of ``TargetOS.on_disk``)."""
    if target.root is None:
        return target.path(str(disk))
    rel = disk.relative_to(target.root)
    if target.is_windows:
        return target.path(f"{rel.parts[0]}:\\", *rel.parts[1:])
    return target.path("/", *rel.parts)


def apply_plan(plan: Plan, target: TargetOS, receipt_file: PurePath, registry: Registry | None = None) -> Receipt:
    """Write every file and registry value of ``plan`` and record them in the receipt; return the receipt."""
    if not target.is_local:
        raise DeployError(f"cannot install for {target.name} on this machine; use --dry-run to see the plan")
    if plan.registry and registry is None:
        raise DeployError("this plan sets registry values but no registry was given")
    # Another user's receipt is replaced, never merged: its items would become root's to remove later.
    receipt, _ = load_trusted_receipt(target, receipt_file)
    everyone = plan.browsers
    # The receipt's own folder is recorded first so that it goes last.
    for folder in _missing_dirs(target.on_disk(receipt_file)):
        receipt.add(Receipt.file_slot("dir", _target_path(target, folder)), everyone)
    try:
        for write in plan.files:
            _write_file(target, write, receipt)
        for value in plan.registry:
            assert registry is not None
            for key in parent_keys(value.key):
                if not registry.key_exists(value.hive, key, value.view) or key == value.key:
                    receipt.add(Receipt.key_slot(value.hive, key, value.view), value.browsers)
            registry.set_value(value.hive, value.key, value.name, value.value, value.view)
    except OSError as exc:
        raise DeployError(
            f"the install stopped: {exc.strerror or exc} ({exc.filename or 'registry'}); what was written is "
            "recorded, so `tracker2fa uninstall` removes it"
        ) from None
    finally:
        # Each item is recorded before it is written: an install that fails half-way can still be undone.
        save_receipt(target, receipt_file, receipt)
    return receipt


def _write_file(target: TargetOS, write: FileWrite, receipt: Receipt) -> None:
    disk = target.on_disk(write.path)
    for folder in _missing_dirs(disk):
        receipt.add(Receipt.file_slot("dir", _target_path(target, folder)), write.browsers)
        # Browsers run as every user: a root umask of 077 must not hide the folders from them.
        folder.mkdir()
        folder.chmod(0o755)
    slot = Receipt.file_slot("file", write.path)
    # A configuration the user already had is updated but stays theirs; everything else is ours by name.
    if write.role != "config" or not disk.exists() or slot in receipt.items:
        receipt.add(slot, write.browsers)
    write_file_atomically(disk, write.content.encode("ascii"), write.mode)


@dataclass
class Removal:
    """What an uninstall removed, and what it kept because another browser still needs it."""

    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _describe(slot: tuple[str, str, str, str]) -> str:
    kind, path, hive, view = slot
    return f"{hive}\\{path} [{view or 'shared'}]" if kind == "key" else path


def uninstall_scope(
    target: TargetOS,
    scope: str,
    browsers: list[Browser],
    *,
    user_config_path: PurePath | None = None,
    user_data_dir: PurePath | None = None,
    registry: Registry | None = None,
) -> Removal:
    """Remove what installs wrote for ``browsers`` in ``scope``; items other browsers still need stay.

    Manifests of ours (by file name) at the browsers' known locations are removed even without a receipt,
    which covers installs made before receipts existed.
    """
    if not target.is_local:
        raise DeployError(f"cannot uninstall for {target.name} on this machine")
    receipt_file = receipt_path(target, scope, user_config_path)
    receipt, distrust = load_trusted_receipt(target, receipt_file)
    names = {owner_name(b, user_data_dir) for b in browsers}
    result = Removal()
    if distrust:
        result.notes.append(distrust)
    allowed = layout_slots(target, scope, browsers, user_config_path, user_data_dir)
    doomed: list[tuple[str, str, str, str]] = []
    for slot, owners in list(receipt.items.items()):
        if not owners & names:
            continue
        if slot not in allowed:
            result.notes.append(
                f"ignored {_describe(slot)} in the install receipt: not a place `tracker2fa install` writes to for "
                f"{', '.join(sorted(names))} ({scope})"
            )
            continue
        owners -= names
        if owners:
            result.kept.append(_describe(slot))
        else:
            doomed.append(slot)
            del receipt.items[slot]
    # Files first, then registry keys and folders deepest first, each only if nothing else lives in it.
    for slot in [s for s in doomed if s[0] == "file"]:
        disk = target.on_disk(target.path(slot[1]))
        if disk.exists() and _may_remove(target, disk, result):
            disk.unlink()
            result.removed.append(slot[1])
    _remove_unrecorded(target, scope, browsers, user_data_dir, registry, receipt, result)
    if distrust is None:  # another user's file is left as it is
        save_receipt(target, receipt_file, receipt)  # before the folders: the receipt may be the last file in one
    for slot in sorted((s for s in doomed if s[0] == "key"), key=lambda s: -s[1].count("\\")):
        _, key, hive, view = slot
        if registry is not None and registry.key_exists(hive, key, view or None):
            if registry.subkeys(hive, key, view or None):
                result.kept.append(_describe(slot) + " (not empty)")
                continue
            registry.delete_key(hive, key, view or None)
            result.removed.append(_describe(slot))
    for slot in sorted((s for s in doomed if s[0] == "dir"), key=lambda s: -len(target.path(s[1]).parts)):
        disk = target.on_disk(target.path(slot[1]))
        if disk.is_dir():
            if any(disk.iterdir()):
                result.kept.append(slot[1] + " (not empty)")
                continue
            if _may_remove(target, disk, result):
                disk.rmdir()
                result.removed.append(slot[1])
    return result


def _may_remove(target: TargetOS, disk: Path, result: Removal) -> bool:
    """True when no other user could have put ``disk`` where it is: every level of its folder is root's or
    the caller's. Otherwise (another user's profile, a folder they can write) it stays, with a note: a symlink
    of theirs could point the removal at a file of someone else."""
    if target.is_windows or not hasattr(os, "geteuid"):
        return True
    from .trust import path_problem

    problem = path_problem(str(disk.parent), frozenset({0, os.geteuid()}), "folder")
    if problem is None:
        return True
    result.notes.append(f"left {disk}: {problem.reason}; run uninstall as that user")
    return False


def layout_slots(
    target: TargetOS,
    scope: str,
    browsers: list[Browser],
    user_config_path: PurePath | None,
    user_data_dir: PurePath | None,
) -> set[tuple[str, str, str, str]]:
    """Every file, folder and registry key an install in ``scope`` for ``browsers`` can write: the only
    items an uninstall may remove, whatever a receipt says."""
    files: list[PurePath] = []
    keys: set[tuple[str, str, str, str]] = set()
    for browser in browsers:
        if user_data_dir is not None:
            locations = [custom_profile_location(browser, target, user_data_dir)]
        else:
            locations = manifest_locations(browser, target, scope)
        for location in locations:
            files.append(location.path)
            for pointer in location.registry:
                for key in parent_keys(pointer.key):
                    keys.add(Receipt.key_slot(pointer.hive, key, pointer.view))
    if scope == "system":
        files.extend([system_config_path(target), *launcher_paths(target)])
    elif user_config_path is not None:
        files.append(user_config_path)
    files.append(receipt_path(target, scope, user_config_path))
    slots = {Receipt.file_slot("file", f) for f in files} | keys
    for path in files:
        for parent in path.parents:
            if parent != parent.parent:  # never a drive or "/" itself
                slots.add(Receipt.file_slot("dir", parent))
    return slots


def _remove_unrecorded(
    target: TargetOS,
    scope: str,
    browsers: list[Browser],
    user_data_dir: PurePath | None,
    registry: Registry | None,
    receipt: Receipt,
    result: Removal,
) -> None:
    """Our manifests and registry keys that no receipt mentions (an older install): remove them too."""
    for browser in browsers:
        if user_data_dir is not None:
            locations = [custom_profile_location(browser, target, user_data_dir)]
        else:
            locations = manifest_locations(browser, target, scope)
        for location in locations:
            slot = Receipt.file_slot("file", location.path)
            disk = target.on_disk(location.path)
            if (
                slot not in receipt.items
                and disk.name == f"{HOST_NAME}.json"
                and disk.exists()
                and _may_remove(target, disk, result)
            ):
                disk.unlink()
                result.removed.append(str(location.path))
            for pointer in location.registry:
                key_slot = Receipt.key_slot(pointer.hive, pointer.key, pointer.view)
                if (
                    registry is not None
                    and key_slot not in receipt.items
                    and registry.key_exists(pointer.hive, pointer.key, pointer.view)
                    and not registry.subkeys(pointer.hive, pointer.key, pointer.view)
                ):
                    registry.delete_key(pointer.hive, pointer.key, pointer.view)
                    result.removed.append(_describe(key_slot))
