"""Google Authenticator otpauth-migration:// payloads, built here with a tiny protobuf writer."""

from __future__ import annotations

import base64
import contextlib
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from native_host.errors import ImportFailed
from native_host.vault.importers import import_bytes
from native_host.vault.importers.protobuf import ProtobufError, iter_fields, message, read_varint

# Timing is not under test; a loaded CI machine must not turn slow examples into failures.
NO_DEADLINE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

SECRET = b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def field_bytes(number: int, value: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(value)) + value


def otp(secret=SECRET, name="alice", issuer="ACME", algorithm=1, digits=1, kind=2, counter=None, reverse=False):
    parts = [field_bytes(1, secret), field_bytes(2, name.encode()), field_bytes(3, issuer.encode()),
             field_varint(4, algorithm), field_varint(5, digits), field_varint(6, kind)]
    if counter is not None:
        parts.append(field_varint(7, counter))
    return b"".join(reversed(parts) if reverse else parts)


def payload(*accounts: bytes, batch_size=1, batch_index=0, batch_id=7, extra=b"") -> bytes:
    body = b"".join(field_bytes(1, a) for a in accounts)
    return body + field_varint(2, 1) + field_varint(3, batch_size) + field_varint(4, batch_index) + \
        field_varint(5, batch_id) + extra


def uri(data: bytes) -> str:
    return "otpauth-migration://offline?data=" + quote(base64.b64encode(data).decode(), safe="")


def test_account_fields_are_read():
    [e] = import_bytes(uri(payload(otp(algorithm=3, digits=2))).encode())
    assert (e.issuer, e.account, e.algorithm, e.digits, e.kind, e.period) == ("ACME", "alice", "SHA512", 8, "totp", 30)
    assert base64.b32decode(e.secret + "=" * (-len(e.secret) % 8)) == SECRET


def test_fields_in_any_order_give_the_same_account():
    [a] = import_bytes(uri(payload(otp())).encode())
    [b] = import_bytes(uri(payload(otp(reverse=True))).encode())
    assert (a.secret, a.issuer, a.account) == (b.secret, b.issuer, b.account)


def test_unknown_fields_of_every_wire_type_are_skipped():
    unknown = field_varint(15, 99) + varint(16 << 3 | 1) + b"\0" * 8 + field_bytes(17, b"xyz") + \
        varint(18 << 3 | 5) + b"\0" * 4
    [e] = import_bytes(uri(payload(otp() + unknown, extra=unknown)).encode())
    assert e.account == "alice"


def test_hotp_keeps_its_counter():
    [e] = import_bytes(uri(payload(otp(kind=1, counter=4))).encode())
    assert (e.kind, e.counter) == ("hotp", 4)


def test_unspecified_algorithm_and_digits_mean_sha1_and_six():
    [e] = import_bytes(uri(payload(otp(algorithm=0, digits=0))).encode())
    assert (e.algorithm, e.digits) == ("SHA1", 6)


def test_md5_account_is_rejected_by_name():
    with pytest.raises(ImportFailed, match="MD5"):
        import_bytes(uri(payload(otp(algorithm=4))).encode())


def test_md5_account_can_be_skipped_keeping_the_others():
    entries = import_bytes(uri(payload(otp(algorithm=4), otp(name="bob"))).encode(), skip_invalid=True)
    assert [e.account for e in entries] == ["bob"]


def test_all_batches_of_an_export_are_imported():
    lines = [uri(payload(otp(name=f"user{i}"), batch_size=3, batch_index=i)) for i in (2, 0, 1)]
    assert [e.account for e in import_bytes("\n".join(lines).encode())] == ["user2", "user0", "user1"]


def test_a_missing_batch_is_reported():
    lines = [uri(payload(otp(name=f"user{i}"), batch_size=3, batch_index=i)) for i in (0, 2)]
    with pytest.raises(ImportFailed, match="codes 2 are missing"):
        import_bytes("\n".join(lines).encode())


DOCUMENTED_BATCH_CAP = 1000  # docs/import-formats.md: "≤ 1,000 QR codes"


def test_an_export_of_exactly_the_most_qr_codes_allowed_is_imported_whole():
    lines = [uri(payload(otp(name=f"user{i}"), batch_size=DOCUMENTED_BATCH_CAP, batch_index=i))
             for i in range(DOCUMENTED_BATCH_CAP)]
    entries = import_bytes("\n".join(lines).encode())
    assert [e.account for e in entries] == [f"user{i}" for i in range(DOCUMENTED_BATCH_CAP)]


@pytest.mark.parametrize("claimed", [DOCUMENTED_BATCH_CAP + 1, DOCUMENTED_BATCH_CAP * 1000])
def test_a_qr_code_of_an_export_claiming_more_qr_codes_than_allowed_is_refused(claimed):
    with pytest.raises(ImportFailed, match=f"the export claims {claimed} QR codes; at most {DOCUMENTED_BATCH_CAP} "):
        import_bytes(uri(payload(otp(), batch_size=claimed, batch_index=0)).encode())


def test_raw_plus_in_data_is_base64_not_a_space():
    # 0xFBEFBE is "++++" in Base64 at some alignment; try the three alignments.
    candidates = (payload(otp(secret=b"\0" * shift + b"\xfb\xef\xbe" * 4)) for shift in range(3))
    data = next(d for d in candidates if "+" in base64.b64encode(d).decode())
    raw = "otpauth-migration://offline?data=" + base64.b64encode(data).decode()
    assert "+" in raw
    [e] = import_bytes(raw.encode())
    assert e.account == "alice"


def test_payload_without_accounts_is_rejected():
    with pytest.raises(ImportFailed, match="no accounts"):
        import_bytes(uri(payload()).encode(), format="google")


def test_account_without_secret_is_rejected():
    with pytest.raises(ImportFailed, match="no secret"):
        import_bytes(uri(payload(otp(secret=b""))).encode())


def test_wrong_wire_type_is_rejected():
    bad = field_varint(1, 5)  # secret as a varint instead of bytes
    with pytest.raises(ImportFailed, match="wire type"):
        import_bytes(uri(payload(bad + field_bytes(2, b"x"))).encode())


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x80", "truncated varint"),
        (b"\x08" + b"\xff" * 11, "longer than"),
        (b"\x0a\x05ab", "past the end"),
        (b"\x0b", "wire type 3"),
        (b"\x00", "field number 0"),
        (b"\x09\x00", "truncated 64-bit"),
    ],
)
def test_protobuf_reader_names_the_problem(data, problem):
    with pytest.raises(ProtobufError, match=problem):
        message(data)


def test_varint_reader_reads_multi_byte_values():
    assert read_varint(varint(300) + b"rest", 0) == (300, 2)


@NO_DEADLINE
@given(st.binary(max_size=300))
def test_protobuf_reader_never_crashes_on_random_bytes(data):
    with contextlib.suppress(ProtobufError):
        list(iter_fields(data))


@NO_DEADLINE
@given(st.binary(max_size=300))
def test_migration_import_of_random_payload_raises_only_import_errors(data):
    with contextlib.suppress(ImportFailed):
        import_bytes(uri(data).encode(), format="google")


@NO_DEADLINE
@given(st.integers(0, 2**64 - 1))
def test_varint_round_trip(value):
    assert read_varint(varint(value), 0) == (value, len(varint(value)))
