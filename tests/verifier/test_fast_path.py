"""The hot routes' replies and service calls (verifier/http/fast_path.py)."""

from __future__ import annotations

import asyncio
import json
import threading

from hypothesis import given
from hypothesis import strategies as st

from verifier.http.fast_path import ceremony_reply, run_service, verify_reply
from verifier.http.models import VerifyReply, WebAuthnOptions
from verifier.service.results import CeremonyStart, VerifyResult

REASONS = ["ok", "invalid", "replay", "locked", "not_enrolled", "expired", "counter_regression"]
json_leaves = st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=12)
json_trees = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


@given(st.booleans(), st.sampled_from(REASONS),
       st.none() | st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False))
def test_a_verify_reply_is_what_the_reply_model_would_send(ok: bool, reason: str, retry_after: float | None) -> None:
    result = VerifyResult(ok, reason, retry_after)
    expected = VerifyReply.model_validate(result.to_dict()).model_dump(mode="json")
    assert json.loads(verify_reply(result).body) == expected


@given(st.dictionaries(st.text(max_size=10), json_trees, max_size=4), st.text(min_size=1, max_size=40))
def test_a_ceremony_reply_is_what_the_reply_model_would_send(options: dict, state_id: str) -> None:
    start = CeremonyStart(options, state_id)
    expected = WebAuthnOptions.model_validate(start._asdict()).model_dump(mode="json")
    assert json.loads(ceremony_reply(start).body) == expected


class _Store:
    def __init__(self, brief: bool) -> None:
        self.calls_are_brief = brief


class _Verifier:
    def __init__(self, brief: bool) -> None:
        self.store = _Store(brief)


async def _thread_of_call(brief: bool) -> tuple[threading.Thread, threading.Thread]:
    return threading.current_thread(), await run_service(_Verifier(brief), threading.current_thread)


def _in_a_loop_of_its_own(brief: bool) -> tuple[threading.Thread, threading.Thread]:
    """Run the check on a fresh thread with its own event loop (this thread may already run one: the
    browser tests' Playwright keeps a loop in the main thread for the whole session)."""
    found: list[tuple[threading.Thread, threading.Thread]] = []
    runner = threading.Thread(target=lambda: found.append(asyncio.run(_thread_of_call(brief))))
    runner.start()
    runner.join(30)
    return found[0]


def test_a_store_whose_calls_are_brief_is_called_on_the_event_loop() -> None:
    loop_thread, call_thread = _in_a_loop_of_its_own(True)
    assert call_thread is loop_thread


def test_a_store_that_waits_on_a_network_is_called_in_the_thread_pool() -> None:
    loop_thread, call_thread = _in_a_loop_of_its_own(False)
    assert call_thread is not loop_thread


def test_sqlite_calls_are_brief_and_postgresql_calls_are_not() -> None:
    from verifier.store.postgres import PostgresStore
    from verifier.store.sqlite import SqliteStore

    assert SqliteStore.calls_are_brief and not PostgresStore.calls_are_brief
