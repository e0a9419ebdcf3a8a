"""The native-messaging codec: properties over random and mutated byte streams, and each limit."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from native_host.framing import (
    MAX_ID_LENGTH,
    MAX_REPLY_BYTES,
    MAX_REQUEST_BYTES,
    BadFrame,
    FrameDecoder,
    FrameTooLarge,
    FramingError,
    TruncatedFrame,
    encode_message,
    usable_id,
)

# Lone surrogates are not valid in UTF-8 JSON; the codec rejects them on input (tested separately).
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=12,
)
messages = st.dictionaries(texts, json_values, max_size=5)


def frame(body: bytes) -> bytes:
    return struct.pack("=I", len(body)) + body


def decode_all(data: bytes, chunk: int | None = None) -> list:
    decoder = FrameDecoder()
    out = []
    if chunk is None:
        out += decoder.feed(data)
    else:
        for i in range(0, len(data), chunk):
            out += decoder.feed(data[i : i + chunk])
    decoder.feed_eof()
    return out


@given(st.lists(messages, max_size=5))
def test_every_valid_frame_round_trips(msgs):
    assert decode_all(b"".join(encode_message(m) for m in msgs)) == msgs


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=60)
@given(st.lists(messages, min_size=1, max_size=3))
def test_split_at_every_byte_boundary_gives_the_same_messages(msgs):
    stream = b"".join(encode_message(m) for m in msgs)
    for cut in range(len(stream) + 1):
        decoder = FrameDecoder()
        got = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])
        decoder.feed_eof()
        assert got == msgs


@given(st.lists(messages, min_size=1, max_size=3))
def test_one_byte_at_a_time_gives_the_same_messages(msgs):
    stream = b"".join(encode_message(m) for m in msgs)
    assert decode_all(stream, chunk=1) == msgs


@given(st.binary(max_size=300), st.integers(1, 64))
def test_random_bytes_raise_only_framing_errors(data, chunk):
    try:
        out = decode_all(data, chunk)
    except FramingError:
        return
    assert all(isinstance(item, dict | BadFrame) for item in out)


@given(
    st.lists(messages, min_size=1, max_size=3),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6),
)
def test_mutated_streams_raise_only_framing_errors(msgs, flips):
    stream = bytearray(b"".join(encode_message(m) for m in msgs))
    for pos, byte in flips:
        stream[pos % len(stream)] = byte
    try:
        out = decode_all(bytes(stream), chunk=7)
    except FramingError:
        return
    assert all(isinstance(item, dict | BadFrame) for item in out)


@given(st.binary(max_size=200))
def test_any_complete_body_decodes_to_an_object_or_a_bad_frame(body):
    (item,) = FrameDecoder().feed(frame(body))
    assert isinstance(item, dict | BadFrame)


def test_invalid_utf8_is_a_bad_frame_that_keeps_the_request_id():
    (item,) = FrameDecoder().feed(frame(b'{"id": 7, "method": "hello", "params": {"x": "\xff"}}'))
    assert isinstance(item, BadFrame)
    assert item.request_id == 7
    assert "UTF-8" in str(item)


def test_invalid_json_is_a_bad_frame_without_an_id():
    (item,) = FrameDecoder().feed(frame(b'{"id": 7, "method": '))
    assert isinstance(item, BadFrame)
    assert item.request_id is None


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"null", b"true"])
def test_a_json_value_that_is_not_an_object_is_a_bad_frame(body):
    (item,) = FrameDecoder().feed(frame(body))
    assert isinstance(item, BadFrame)
    assert "object" in str(item)


@pytest.mark.parametrize("body", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}'])
def test_non_standard_json_constants_are_a_bad_frame(body):
    (item,) = FrameDecoder().feed(frame(body))
    assert isinstance(item, BadFrame)


def test_deeply_nested_json_is_a_bad_frame_not_a_crash():
    (item,) = FrameDecoder().feed(frame(b"[" * 100_000 + b"]" * 100_000))
    assert isinstance(item, BadFrame)


def test_an_integer_with_too_many_digits_is_a_bad_frame():
    (item,) = FrameDecoder().feed(frame(b'{"id": 1, "n": ' + b"9" * 5000 + b"}"))
    assert isinstance(item, BadFrame)


def test_a_lone_surrogate_escape_is_a_bad_frame_with_its_id():
    (item,) = FrameDecoder().feed(frame(b'{"id": "r1", "params": {"issuer": "\\ud800"}}'))
    assert isinstance(item, BadFrame)
    assert item.request_id == "r1"


def test_a_bad_frame_does_not_disturb_the_next_frame():
    stream = frame(b"not json") + encode_message({"id": 2, "method": "hello"})
    bad, good = FrameDecoder().feed(stream)
    assert isinstance(bad, BadFrame)
    assert good == {"id": 2, "method": "hello"}


def test_a_length_over_the_cap_raises_before_the_body_arrives():
    decoder = FrameDecoder()
    with pytest.raises(FrameTooLarge):
        decoder.feed(struct.pack("=I", MAX_REQUEST_BYTES + 1))


def test_a_frame_of_exactly_the_cap_is_accepted():
    body = b'{"x":"' + b"a" * (MAX_REQUEST_BYTES - 8) + b'"}'
    assert len(body) == MAX_REQUEST_BYTES
    (item,) = FrameDecoder().feed(frame(body))
    assert isinstance(item, dict)


def test_the_decoder_refuses_input_after_an_oversized_frame():
    decoder = FrameDecoder()
    with pytest.raises(FrameTooLarge):
        decoder.feed(struct.pack("=I", 0xFFFFFFFF))
    with pytest.raises(FrameTooLarge):
        decoder.feed(encode_message({"id": 1}))


@pytest.mark.parametrize("cut", [1, 3, 4, 5, 10])
def test_a_frame_cut_short_by_eof_raises_truncated_frame(cut):
    decoder = FrameDecoder()
    assert decoder.feed(encode_message({"id": 1, "method": "hello"})[:cut]) == []
    with pytest.raises(TruncatedFrame):
        decoder.feed_eof()


def test_eof_between_frames_is_clean():
    decoder = FrameDecoder()
    decoder.feed(encode_message({"id": 1}))
    decoder.feed_eof()
    assert decoder.buffered == 0


def test_the_length_is_in_native_byte_order():
    encoded = encode_message({"a": 1})
    assert struct.unpack("=I", encoded[:4])[0] == len(encoded) - 4


def test_a_reply_over_one_mebibyte_is_refused():
    with pytest.raises(FrameTooLarge):
        encode_message({"data": "x" * MAX_REPLY_BYTES})


def test_a_reply_of_exactly_one_mebibyte_is_allowed():
    body_overhead = len(b'{"d":""}')
    encoded = encode_message({"d": "x" * (MAX_REPLY_BYTES - body_overhead)})
    assert len(encoded) == 4 + MAX_REPLY_BYTES


def test_a_reply_with_a_lone_surrogate_is_still_valid_utf8():
    encoded = encode_message({"id": "\ud800"})
    encoded[4:].decode("utf-8")
    assert json.loads(encoded[4:]) == {"id": "\ud800"}


def test_non_ascii_text_is_sent_as_utf8():
    encoded = encode_message({"issuer": "Jíra ✓"})
    assert "Jíra ✓".encode() in encoded


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=600), st.integers(-(2**70), 2**70), st.booleans(), st.none(), json_values))
def test_a_bad_frame_carries_only_an_id_small_enough_to_echo(rid):
    body = json.dumps({"id": rid, "method": "hello", "p": ""}).encode()[:-2] + b'\xff"}'  # p = "\xff": not UTF-8
    [message] = FrameDecoder().feed(struct.pack("=I", len(body)) + body)
    assert isinstance(message, BadFrame)
    assert usable_id(message.request_id)
    if usable_id(rid) and rid is not None:
        assert message.request_id == rid  # a usable id is kept, so the sender can match the error
    else:
        assert message.request_id is None
    reply = {"id": message.request_id, "error": {"code": "bad_frame", "message": str(message)}}
    assert len(encode_message(reply)) < 8 * 1024


@pytest.mark.parametrize(
    ("rid", "usable"),
    [(None, True), ("x" * MAX_ID_LENGTH, True), ("x" * (MAX_ID_LENGTH + 1), False), (2**63 - 1, True),
     (-(2**63), True), (2**63, False), (True, False), (1.5, False), ([1], False)],
)
def test_a_request_id_is_usable_only_while_a_reply_can_echo_it(rid, usable):
    assert usable_id(rid) is usable
