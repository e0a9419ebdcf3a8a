"""The host protocol object, driven directly: bytes in, requests and reply bytes out; no process, no thread."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from native_host.errors import Tracker2faError
from native_host.framing import FrameDecoder, FrameTooLarge, TruncatedFrame
from native_host.protocol import Protocol


def frame(message: dict | bytes) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return struct.pack("=I", len(body)) + body


def replies(protocol: Protocol) -> list[dict]:
    """Every frame the protocol wants to send, decoded (and so checked to be well framed)."""
    decoder = FrameDecoder(max_size=2**32)
    decoded = decoder.feed(protocol.data_to_send())
    decoder.feed_eof()
    assert all(isinstance(m, dict) for m in decoded)
    return decoded


def fed(*messages: dict | bytes, concurrent: tuple[str, ...] = ()) -> Protocol:
    protocol = Protocol(concurrent_methods=concurrent)
    protocol.receive_data(b"".join(frame(m) for m in messages))
    return protocol


# --- parsing and validation ---------------------------------------------------------------------------------


def test_a_well_formed_request_comes_out_with_its_id_method_and_params():
    protocol = fed({"id": 7, "method": "vault.code", "params": {"id": "x", "origin": "https://a.example"}})
    [request] = protocol.requests_received()
    assert (request.id, request.method, request.params) == (7, "vault.code", {"id": "x", "origin": "https://a.example"})
    assert protocol.data_to_send() == b""


def test_missing_or_null_params_are_an_empty_object():
    protocol = fed({"id": 1, "method": "hello"}, {"id": 2, "method": "hello", "params": None})
    assert [r.params for r in protocol.requests_received()] == [{}, {}]


def test_a_body_that_is_not_json_is_answered_bad_frame_and_the_stream_carries_on():
    protocol = fed(b"{nope", {"id": 2, "method": "hello"})
    assert [(r["id"], r["error"]["code"]) for r in replies(protocol)] == [(None, "bad_frame")]
    assert [r.id for r in protocol.requests_received()] == [2]


@pytest.mark.parametrize(
    ("message", "reply_id"),
    [
        ({"id": 3, "params": {}}, 3),  # no method
        ({"id": 3, "method": ""}, 3),
        ({"id": 3, "method": "hello", "params": [1]}, 3),
        ({"id": 1.5, "method": "hello"}, None),  # an id of the wrong type is not echoed
        ({"id": "x" * 257, "method": "hello"}, None),  # nor one too long to echo
        ({"id": 2**63, "method": "hello"}, None),
    ],
)
def test_a_malformed_envelope_is_answered_bad_request_and_never_run(message, reply_id):
    protocol = fed(message)
    [reply] = replies(protocol)
    assert reply["id"] == reply_id and reply["error"]["code"] == "bad_request"
    assert protocol.requests_received() == []


def test_a_length_over_the_cap_raises_frame_too_large():
    protocol = Protocol(max_request_bytes=16)
    with pytest.raises(FrameTooLarge):
        protocol.receive_data(struct.pack("=I", 17))


def test_eof_inside_a_frame_raises_truncated_frame():
    protocol = Protocol()
    protocol.receive_data(frame({"id": 1, "method": "hello"})[:-1])
    with pytest.raises(TruncatedFrame):
        protocol.receive_eof()


def test_eof_between_frames_is_a_clean_end():
    protocol = fed({"id": 1, "method": "hello"})
    protocol.receive_eof()
    assert [r.id for r in protocol.requests_received()] == [1]


# --- ordering -------------------------------------------------------------------------------------------------


def test_requests_come_out_in_arrival_order_across_reads():
    protocol = Protocol()
    protocol.receive_data(frame({"id": 1, "method": "a"}) + frame({"id": 2, "method": "b"}))
    first = protocol.requests_received()
    protocol.receive_data(frame({"id": 3, "method": "c"}))
    assert [r.id for r in first + protocol.requests_received()] == [1, 2, 3]
    assert protocol.requests_received() == []  # each request is handed out once


def test_replies_are_sent_in_the_order_they_are_finished():
    protocol = fed({"id": 1, "method": "a"}, {"id": 2, "method": "b"})
    one, two = protocol.requests_received()
    protocol.finish(two, {"n": 2})
    protocol.finish(one, error=Tracker2faError("no", code="entry_not_found"))
    assert replies(protocol) == [
        {"id": 2, "result": {"n": 2}},
        {"id": 1, "error": {"code": "entry_not_found", "message": "no"}},
    ]


def test_only_the_concurrent_methods_are_marked_to_run_off_the_queue():
    protocol = fed({"id": 1, "method": "fido.get"}, {"id": 2, "method": "vault.code"}, concurrent=("fido.get",))
    assert [(r.id, r.concurrent) for r in protocol.requests_received()] == [(1, True), (2, False)]


def test_an_error_carries_its_dom_name_and_u2f_code_when_it_has_them():
    class KeyRefused(Tracker2faError):
        code = "fido_security_error"
        dom_name = "SecurityError"
        u2f_error_code = 2

    protocol = fed({"id": 1, "method": "u2f.sign"})
    [request] = protocol.requests_received()
    protocol.finish(request, error=KeyRefused("rpId is not the origin's"))
    assert replies(protocol)[0]["error"] == {
        "code": "fido_security_error", "message": "rpId is not the origin's", "dom_name": "SecurityError",
        "u2f_error_code": 2,
    }


def test_a_reply_too_large_for_the_browser_becomes_too_large():
    protocol = fed({"id": 1, "method": "a"})
    [request] = protocol.requests_received()
    protocol.finish(request, {"blob": "x" * (1024 * 1024 + 1)})
    [reply] = replies(protocol)
    assert reply["id"] == 1 and reply["error"]["code"] == "too_large"


# --- cancel -----------------------------------------------------------------------------------------------------


def test_cancel_of_an_unknown_id_reports_nothing_cancelled():
    protocol = fed({"id": 9, "method": "cancel", "params": {"target": 1}})
    assert replies(protocol) == [{"id": 9, "result": {"cancelled": False}}]


def test_cancel_of_a_queued_request_sets_its_event_and_is_answered_at_once():
    protocol = fed({"id": 1, "method": "vault.unlock"}, {"id": 2, "method": "cancel", "params": {"target": 1}})
    [request] = protocol.requests_received()  # the cancel itself is never handed out to run
    assert request.cancelled.is_set()
    assert replies(protocol) == [{"id": 2, "result": {"cancelled": True}}]


def test_cancel_of_a_running_request_sets_its_event():
    protocol = fed({"id": "run", "method": "fido.get"})
    [running] = protocol.requests_received()  # taken by the host: running
    protocol.receive_data(frame({"id": 2, "method": "cancel", "params": {"target": "run"}}))
    assert running.cancelled.is_set()
    assert replies(protocol) == [{"id": 2, "result": {"cancelled": True}}]


def test_cancel_of_a_finished_request_reports_nothing_cancelled():
    protocol = fed({"id": 1, "method": "hello"})
    [request] = protocol.requests_received()
    protocol.finish(request, {})
    protocol.data_to_send()
    protocol.receive_data(frame({"id": 2, "method": "cancel", "params": {"target": 1}}))
    assert replies(protocol) == [{"id": 2, "result": {"cancelled": False}}]
    assert not request.cancelled.is_set()


@pytest.mark.parametrize("params", [{}, {"target": None}, {"target": [1]}, {"target": "x" * 300}])
def test_cancel_without_a_usable_target_is_bad_request(params):
    protocol = fed({"id": 5, "method": "cancel", "params": params})
    assert replies(protocol)[0]["error"]["code"] == "bad_request"


def test_closing_the_port_cancels_only_the_concurrent_requests():
    protocol = fed({"id": 1, "method": "fido.get"}, {"id": 2, "method": "vault.add"}, concurrent=("fido.get",))
    ceremony, add = protocol.requests_received()
    protocol.cancel_all(concurrent_only=True)
    assert ceremony.cancelled.is_set() and not add.cancelled.is_set()


# --- arbitrary streams --------------------------------------------------------------------------------------------

_messages = st.one_of(
    st.builds(lambda i, m: {"id": i, "method": m}, st.integers(0, 50), st.sampled_from(["hello", "vault.code"])),
    st.builds(lambda i, t: {"id": i, "method": "cancel", "params": {"target": t}}, st.integers(100, 150),
              st.integers(0, 50)),
    st.just({"id": "bad", "params": []}),
    st.binary(max_size=40),  # framed garbage
)


def _drive(stream: bytes, cuts: list[int]) -> tuple[list[tuple], list[dict]]:
    protocol = Protocol()
    handed, out, start = [], b"", 0
    for cut in [*sorted(cuts), len(stream)]:
        protocol.receive_data(stream[start:cut])
        start = cut
        handed += [(r.id, r.method, r.params) for r in protocol.requests_received()]
        out += protocol.data_to_send()
    decoder = FrameDecoder(max_size=2**32)
    return handed, decoder.feed(out)


@settings(max_examples=300, deadline=None)
@given(st.lists(_messages, max_size=12), st.data())
def test_any_split_of_a_stream_gives_the_same_requests_and_replies(messages, data):
    stream = b"".join(frame(m) for m in messages)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    assert _drive(stream, cuts) == _drive(stream, [])
    handed, _ = _drive(stream, cuts)
    expected = [m for m in messages if isinstance(m, dict) and m.get("method") not in ("cancel", None)]
    assert [h[0] for h in handed] == [m["id"] for m in expected]  # every request once, in order


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_arbitrary_bytes_end_in_replies_or_a_stream_error_never_anything_else(stream, cuts):
    protocol = Protocol(max_request_bytes=4096)
    start = 0
    try:
        for cut in [*sorted(c for c in cuts if c <= len(stream)), len(stream)]:
            protocol.receive_data(stream[start:cut])
            start = cut
            protocol.requests_received()
        protocol.receive_eof()
    except (FrameTooLarge, TruncatedFrame):
        pass
    replies(protocol)  # whatever it wants to send is well framed JSON objects
