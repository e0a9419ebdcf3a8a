"""Run a coroutine to completion on a thread of its own.

Playwright's sync API (the browser tests of the same pytest session) keeps an event loop running on the main
thread, where ``asyncio.run`` then refuses to start another."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_on_own_thread(scenario: Callable[[], Coroutine[Any, Any, T]], timeout: float = 60) -> T:
    """``asyncio.run(scenario())`` on a new thread; its exception is raised here, a hang is a failure."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(asyncio.run(scenario()))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout=timeout)
    if failure:
        raise failure[0]
    assert outcome, f"the scenario did not finish within {timeout} s"
    return outcome[0]
