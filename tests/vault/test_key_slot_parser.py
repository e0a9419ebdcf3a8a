"""The fido2-prf slot parser against hostile fields: every bound holds, and damage is only ever VaultCorrupt."""

from __future__ import annotations

import base64
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from native_host.errors import VaultCorrupt
from native_host.vault.format import build_vault, header_digest, parse_vault
from native_host.vault.key_slot import make_key_slot

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = ["id", "name", "credential_id", "rp_id", "salt", "kdf", "nonce", "key"]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _slot() -> dict:
    return make_key_slot(os.urandom(32), credential_id=os.urandom(64), rp_id="tracker2fa-vault.invalid",
                         salt=os.urandom(32), prf_output=os.urandom(32), name="desk key")


def _file_with(slot: dict) -> bytes:
    password_like = {"type": "password", "id": "0" * 32, "nonce": _b64(os.urandom(12)), "key": _b64(os.urandom(48)),
                     "kdf": {"name": "scrypt", "log2_n": 10, "r": 8, "p": 1, "salt": _b64(os.urandom(32))}}
    header = {"cipher": "aes-256-gcm", "nonce": _b64(os.urandom(12)), "slots": [password_like, slot]}
    return build_vault(header, os.urandom(64))


def test_a_well_formed_key_slot_parses():
    slot = _slot()
    assert parse_vault(_file_with(slot)).key_slots() == [slot]


def _b64_size(value, low: int, high: int) -> bool:
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except Exception:
        return False
    return low <= len(raw) <= high


def _within_bounds(field: str, value) -> bool:
    """The documented bounds of docs/vault-format.md, written independently of format.py."""
    if field == "kdf":
        return value == {"name": "hkdf-sha256"}
    if not isinstance(value, str):
        return False
    if field == "id":
        return len(value) == 32 and set(value) <= set("0123456789abcdef")
    if field in ("name", "rp_id"):
        return 0 < len(value) <= (64 if field == "name" else 253) and value.isprintable()
    low, high = {"credential_id": (16, 1023), "salt": (32, 32), "nonce": (12, 12), "key": (48, 48)}[field]
    return _b64_size(value, low, high)


HOSTILE = (JSON_VALUES | st.binary(max_size=1100).map(_b64) | st.text(alphabet="0123456789abcdef", max_size=40)
           | st.text(max_size=70) | st.text(alphabet="ab.-", min_size=240, max_size=270)  # around the length caps
           | st.fixed_dictionaries({"name": st.sampled_from(["hkdf-sha256", "scrypt"])},
                                   optional={"info": JSON_VALUES}))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=HOSTILE)
def test_any_value_in_any_field_is_accepted_exactly_when_within_the_documented_bounds(field, value):
    slot = {**_slot(), field: value}
    try:
        parse_vault(_file_with(slot))
    except VaultCorrupt:
        assert not _within_bounds(field, value), f"{field}={value!r} is within the bounds but was refused"
        return
    assert _within_bounds(field, value), f"{field}={value!r} is outside the bounds but was accepted"


@settings(max_examples=100)
@given(field=st.sampled_from(FIELDS))
def test_a_missing_field_is_vault_corrupt(field):
    slot = _slot()
    del slot[field]
    with pytest.raises(VaultCorrupt):
        parse_vault(_file_with(slot))


@pytest.mark.parametrize(("field", "value", "says"), [
    ("credential_id", _b64(b"\x01" * 1024), "credential id has 1024 bytes"),
    ("credential_id", _b64(b"\x01" * 15), "credential id has 15 bytes"),
    ("salt", _b64(b"\x01" * 31), "PRF salt has 31 bytes"),
    ("salt", _b64(b"\x01" * 64), "PRF salt has 64 bytes"),
    ("nonce", _b64(b"\x01" * 16), "slot nonce has 16 bytes"),
    ("key", _b64(b"\x01" * 4096), "wrapped key has 4096 bytes"),
    ("rp_id", "a" * 254, "rpId must be printable text of 1–253"),
    ("name", "", "name must be printable text of 1–64"),
    ("name", "x" * 65, "name must be printable text of 1–64"),
    ("name", "desk\x1b[2Jkey", "name must be printable text"),
    ("id", "../../etc/passwd", "id must be 32 lowercase hex digits"),
    ("kdf", {"name": "hkdf-sha256", "extra": 1}, "kdf must be"),
    ("kdf", {"name": "pbkdf2"}, "kdf must be"),
    ("credential_id", "not base64!", "credential id is not valid Base64"),
])
def test_each_bound_is_enforced_with_a_message_naming_the_field(field, value, says):
    with pytest.raises(VaultCorrupt, match=says.replace("[", r"\[")):
        parse_vault(_file_with({**_slot(), field: value}))


def test_the_slot_parser_runs_before_the_checksum_is_trusted_for_a_recomputed_header():
    doc = json.loads(_file_with(_slot()))
    doc["header"]["slots"][1]["salt"] = _b64(b"\x00" * 1000)
    doc["header_sha256"] = header_digest(doc["header"])
    with pytest.raises(VaultCorrupt, match="PRF salt"):
        parse_vault(json.dumps(doc).encode())
