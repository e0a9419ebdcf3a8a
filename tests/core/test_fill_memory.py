"""FillMemory and the vault.code reply it shapes: a step once given is never given again as fresh."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from native_host.fill_memory import FillMemory


def test_a_step_is_claimed_once():
    memory = FillMemory()
    assert memory.claim("e", "https://a.example", 10) is None
    assert memory.claim("e", "https://a.example", 10) == 10


def test_a_later_step_is_free_after_an_earlier_one():
    memory = FillMemory()
    memory.claim("e", "https://a.example", 10)
    assert memory.claim("e", "https://a.example", 11) is None


def test_an_earlier_step_is_blocked_by_a_later_one():
    memory = FillMemory()
    memory.claim("e", "https://a.example", 11)  # given ahead
    assert memory.claim("e", "https://a.example", 10) == 11


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(["https://x", "https://y"]),
                          st.integers(0, 50)), max_size=60))
def test_no_entry_and_origin_ever_gets_a_step_at_or_below_one_already_given(claims):
    memory = FillMemory()
    given_steps: dict[tuple[str, str], list[int]] = {}
    for entry, origin, step in claims:
        if memory.claim(entry, origin, step) is None:
            previous = given_steps.setdefault((entry, origin), [])
            assert all(step > p for p in previous)
            previous.append(step)
