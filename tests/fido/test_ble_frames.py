"""The sans-I/O CTAP-over-BLE codec: fragmentation and reassembly, including hostile frame sequences."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from native_host.fido.ble.frames import BleCommand, BleError, FrameAssembler, FrameError, fragment
from native_host.fido.ble.gatt import RevisionError, choose_revision, parse_control_point_length

commands = st.sampled_from([BleCommand.PING, BleCommand.MSG, BleCommand.KEEPALIVE, BleCommand.ERROR])
frame_sizes = st.integers(min_value=20, max_value=512)


@given(commands, st.binary(max_size=3000), frame_sizes)
def test_fragments_reassemble_to_the_message(command, data, max_frame):
    assembler = FrameAssembler(max_frame=max_frame)
    frames = fragment(command, data, max_frame)
    results = [assembler.feed(frame) for frame in frames]
    assert all(len(frame) <= max_frame for frame in frames)
    assert results[:-1] == [None] * (len(frames) - 1)
    assert results[-1].command == command and results[-1].data == data
    assert not assembler.in_progress


@given(st.binary(min_size=1, max_size=2000), frame_sizes)
def test_continuation_sequence_numbers_count_up_and_wrap(data, max_frame):
    frames = fragment(BleCommand.MSG, data, max_frame)
    assert [frame[0] for frame in frames[1:]] == [i & 0x7F for i in range(len(frames) - 1)]


@given(st.integers(min_value=2, max_value=0xFFFF))
def test_declared_length_beyond_the_maximum_is_refused(length):
    assembler = FrameAssembler(max_frame=64, max_message=1)
    with pytest.raises(FrameError, match="exceeds the maximum message size") as caught:
        assembler.feed(bytes([BleCommand.MSG]) + length.to_bytes(2, "big") + b"x")
    assert caught.value.code == BleError.INVALID_LEN
    assert not assembler.in_progress


@given(st.binary(min_size=200, max_size=1000), st.integers(min_value=1, max_value=0x7F))
def test_wrong_sequence_number_is_refused_and_the_message_dropped(data, shift):
    assembler = FrameAssembler(max_frame=64)
    frames = fragment(BleCommand.MSG, data, 64)
    assembler.feed(frames[0])
    bad = bytes([(frames[1][0] + shift) & 0x7F]) + frames[1][1:]
    with pytest.raises(FrameError, match="wrong sequence number") as caught:
        assembler.feed(bad)
    assert caught.value.code == BleError.INVALID_SEQ
    assert not assembler.in_progress
    # The next message starts clean.
    assert assembler.feed(fragment(BleCommand.PING, b"hi", 64)[0]).data == b"hi"


@given(st.binary(max_size=300), st.binary(min_size=1, max_size=20))
def test_frames_carrying_more_than_the_declared_length_are_refused(data, extra):
    assembler = FrameAssembler(max_frame=512)
    header = bytes([BleCommand.MSG]) + len(data).to_bytes(2, "big")
    with pytest.raises(FrameError, match="more than the declared length"):
        assembler.feed(header + data + extra)


@given(st.lists(st.binary(max_size=80), max_size=30))
def test_arbitrary_frames_never_crash_the_assembler(frames):
    assembler = FrameAssembler(max_frame=64, max_message=1024)
    for frame in frames:
        try:
            message = assembler.feed(frame)
        except FrameError as exc:
            assert exc.code in set(BleError)
            continue
        if message is not None:
            assert len(message.data) <= 1024


def test_continuation_without_a_message_is_refused():
    with pytest.raises(FrameError, match="without a message"):
        FrameAssembler(max_frame=64).feed(b"\x00abc")


def test_frame_longer_than_the_control_point_is_refused():
    with pytest.raises(FrameError, match="exceeds the control point length 20"):
        FrameAssembler(max_frame=20).feed(bytes([BleCommand.MSG, 0, 30]) + b"x" * 30)


def test_unknown_command_is_refused():
    with pytest.raises(FrameError, match="unknown command 0x90") as caught:
        FrameAssembler(max_frame=64).feed(b"\x90\x00\x00")
    assert caught.value.code == BleError.INVALID_CMD


def test_new_message_while_one_is_incomplete_is_refused():
    assembler = FrameAssembler(max_frame=20)
    assembler.feed(fragment(BleCommand.MSG, b"x" * 50, 20)[0])
    with pytest.raises(FrameError, match="while a message is incomplete"):
        assembler.feed(fragment(BleCommand.PING, b"y", 20)[0])


def test_revision_selection_prefers_fido2_then_u2f_1_2():
    assert choose_revision(bytes([0xE0])) == 0x20
    assert choose_revision(bytes([0xC0])) == 0x40
    assert choose_revision(bytes([0x80])) == 0x80
    with pytest.raises(RevisionError, match="no supported FIDO revision"):
        choose_revision(bytes([0x01]))


@pytest.mark.parametrize("value", [b"\x00\x13", b"\x02\x01", b"\x00"])
def test_control_point_length_outside_the_spec_is_refused(value):
    with pytest.raises(ValueError, match="fidoControlPointLength"):
        parse_control_point_length(value)
