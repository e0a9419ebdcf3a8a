"""The verifier's cache of python-fido2's type hints (verifier/core/fido2_hints.py)."""

from __future__ import annotations

import dataclasses
import typing

import fido2.utils
import fido2.webauthn

from verifier.core import fido2_hints
from verifier.service import Verifier, VerifierSettings
from verifier.store import open_store


def _fido2_data_classes() -> list[type]:
    return [cls for cls in vars(fido2.webauthn).values()
            if isinstance(cls, type) and dataclasses.is_dataclass(cls)]


def test_every_webauthn_data_class_gets_the_hints_typing_computes() -> None:
    fido2_hints.install()
    classes = _fido2_data_classes()
    assert len(classes) > 10
    for cls in classes:
        assert fido2.utils.get_type_hints(cls) == typing.get_type_hints(cls)


def test_a_non_class_argument_is_passed_to_typing_unchanged() -> None:
    fido2_hints.install()

    def annotated(x: int) -> str:
        return str(x)

    assert fido2.utils.get_type_hints(annotated) == {"x": int, "return": str}


def test_a_verifier_puts_the_cache_in_place(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(fido2.utils, "get_type_hints", typing.get_type_hints)  # as fido2 ships it
    store = open_store(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        Verifier(store, VerifierSettings(server_key=b"k" * 32, origins=("http://localhost",)))
    finally:
        store.close()
    assert fido2.utils.get_type_hints is fido2_hints._get_type_hints


def test_someone_elses_replacement_is_left_in_place(monkeypatch) -> None:
    def theirs(obj, *args, **kwargs):
        return typing.get_type_hints(obj, *args, **kwargs)

    monkeypatch.setattr(fido2.utils, "get_type_hints", theirs)
    fido2_hints.install()
    assert fido2.utils.get_type_hints is theirs
