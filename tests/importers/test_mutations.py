"""Random damage to real sample files never raises anything but the documented import errors."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from native_host.errors import ImportFailed, InvalidSecret, InvalidUri
from native_host.vault.importers import import_bytes
from tests.importers.support import SAMPLES, expected_files

ALLOWED = (ImportFailed, InvalidUri, InvalidSecret)
FILES = [f for f in expected_files() if f["entries"] or f.get("expect_error")]
# Key derivation makes each try of an encrypted file cost up to ~0.15 s: fewer examples there.
PLAIN = [f for f in FILES if not f.get("encrypted")]
ENCRYPTED = [f for f in FILES if f.get("encrypted")]
JSON_FILES = [f for f in PLAIN if f["path"].endswith((".json", ".2fas"))]
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_SLOW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read(sample: dict[str, Any]) -> bytes:
    if not SAMPLES.is_dir():
        pytest.skip("import samples not found")
    return (SAMPLES / sample["path"]).read_bytes()


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """Flip, delete, insert or truncate at random places, one to three times."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate"]))
        at = draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "flip" and buf:
            buf[at] ^= draw(st.integers(1, 255))
        elif op == "delete":
            del buf[at : at + draw(st.integers(1, 16))]
        elif op == "insert":
            buf[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "truncate":
            del buf[at:]
        else:
            buf[at:at] = buf[at : at + draw(st.integers(1, 32))]
    return bytes(buf)


def _import_or_documented_error(data: bytes, password: str | None) -> None:
    with contextlib.suppress(ALLOWED):
        import_bytes(data, password=password)
    with contextlib.suppress(ALLOWED):
        import_bytes(data, password=password, skip_invalid=True)


@pytest.mark.parametrize("sample", PLAIN, ids=[f["path"] for f in PLAIN])
@FUZZ
@given(data=st.data())
def test_byte_damage_to_a_plain_sample_raises_only_import_errors(sample, data):
    _import_or_documented_error(data.draw(mutated(_read(sample))), sample.get("password"))


@pytest.mark.parametrize("sample", ENCRYPTED, ids=[f["path"] for f in ENCRYPTED])
@FUZZ_SLOW
@given(data=st.data())
def test_byte_damage_to_an_encrypted_sample_raises_only_import_errors(sample, data):
    _import_or_documented_error(data.draw(mutated(_read(sample))), sample.get("password"))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _replace(node: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    node[path[0]] = _replace(node[path[0]], path[1:], value)
    return node


@pytest.mark.parametrize("sample", JSON_FILES, ids=[f["path"] for f in JSON_FILES])
@FUZZ
@given(data=st.data())
def test_wrong_json_values_in_a_sample_raise_only_import_errors(sample, data):
    doc = json.loads(_read(sample))
    path = data.draw(st.sampled_from(_paths(doc)[1:] or [()]))
    mutated_doc = _replace(doc, path, data.draw(_json_values))
    _import_or_documented_error(json.dumps(mutated_doc).encode(), sample.get("password"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_raise_only_import_errors(data):
    _import_or_documented_error(data, None)


def test_a_sample_that_imports_fine_still_does_after_the_fuzzers(import_samples: Path):
    """Guards against the fuzz tests passing because everything raises."""
    assert len(import_bytes((import_samples / "aegis/aegis_plain.json").read_bytes())) == 7
