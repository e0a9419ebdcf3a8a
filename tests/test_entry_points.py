"""native_host/cli/entry_points.py: the sub-commands read from the distribution's entry_points.txt without
importlib.metadata, and read exactly as importlib.metadata reads them."""

from __future__ import annotations

from importlib import metadata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from native_host.cli.entry_points import GROUP, CommandPoint, command_points, parse_entry_points

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
dotted = st.lists(identifiers, min_size=1, max_size=3).map(".".join)
extras = st.lists(st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True), max_size=3)


@st.composite
def values(draw: st.DrawFn) -> str:
    value = draw(dotted)
    if draw(st.booleans()):
        value += draw(st.sampled_from([":", " : ", ":"])) + draw(dotted)
    chosen = draw(extras)
    if chosen:
        value += draw(st.sampled_from([" ", ""])) + "[" + draw(st.sampled_from([",", ", "])).join(chosen) + "]"
    return value


def test_the_installed_commands_are_those_importlib_metadata_reads() -> None:
    expected = metadata.distribution("tracker2fa").entry_points.select(group=GROUP)
    found = command_points()
    assert [(p.name, p.value, p.extras) for p in found] == [(e.name, e.value, tuple(e.extras)) for e in expected]
    assert {"vault", "verifier", "try"} <= {p.name for p in found}


@given(values())
def test_a_value_splits_into_module_attribute_and_extras_as_importlib_metadata_splits_it(value: str) -> None:
    ours = CommandPoint("cmd", value)
    theirs = metadata.EntryPoint(name="cmd", value=value, group=GROUP)
    assert ours.extras == tuple(theirs.extras)
    match = ours._match()
    assert (match.group("module"), match.group("attr")) == (theirs.module, theirs.attr)


@given(st.lists(st.tuples(st.sampled_from([GROUP, "console_scripts", "other.group"]), identifiers, values()),
                max_size=8))
def test_only_the_commands_group_is_read_in_file_order(entries: list[tuple[str, str, str]]) -> None:
    text = ""
    for group, name, value in entries:  # one section per line, as several sections may repeat a group
        text += f"[{group}]\n{name} = {value}\n\n"
    assert parse_entry_points(text) == [CommandPoint(n, v) for g, n, v in entries if g == GROUP]


@given(st.text(max_size=300))
def test_any_text_parses_to_a_list_without_raising(text: str) -> None:
    assert isinstance(parse_entry_points(text), list)


def test_a_malformed_value_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match=r"malformed entry point broken = 'not a value!'"):
        CommandPoint("broken", "not a value!").load()
