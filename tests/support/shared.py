"""Costly test fixtures (a browser, a mock tracker) shared by the tests of one module while they pass.

pytest-rerunfailures reruns a failed browser test with the module's fixtures as the failed attempt left them:
a mock tracker whose demo user the attempt enrolled, a vault it added to, a key a request of it still holds.
The rerun then fails somewhere else, and the real failure is never shown. Starting a browser for every test
would cost seconds per test, so a test gets a function-scoped fixture whose costly part is shared until a
test using it fails: the failure discards it, and the rerun (and any test after it) starts a fresh one.

    @pytest.fixture(scope="module")
    def browsers(...) -> Iterator[Shared[Chromium]]:
        with Shared(lambda: running_chromium(...)) as shared:
            yield shared

    @pytest.fixture
    def browser(browsers, request) -> Iterator[Chromium]:
        yield from browsers.for_test(request)

``tests/conftest.py`` records each phase's report in ``item.stash[PHASE_REPORTS]`` (pytest's documented way
for a fixture to learn how its test went).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

import pytest

T = TypeVar("T")

PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def failed_so_far(node: pytest.Item) -> bool:
    """True when this attempt of the test failed so far (its setup or its call)."""
    return any(report.failed for report in node.stash.get(PHASE_REPORTS, {}).values())


def _same(these: tuple[Any, ...], those: tuple[Any, ...]) -> bool:
    return len(these) == len(those) and all(a is b for a, b in zip(these, those, strict=True))


class Shared(Generic[T]):
    """One running ``T``, started on first use by ``start(*made_from)`` (a context manager), handed to every
    test until one fails, then stopped; the next test starts another. ``made_from``: what the thing was made
    from (e.g. the mock tracker a browser's vault holds codes of); when that is replaced, so is the thing."""

    def __init__(self, start: Callable[..., AbstractContextManager[T]]) -> None:
        self._start = start
        self._running: AbstractContextManager[T] | None = None
        self._value: T | None = None
        self._made_from: tuple[Any, ...] = ()

    def get(self, *made_from: Any) -> T:
        """The running one, or a new one when there is none or it was made from other things."""
        if self._running is not None and not _same(made_from, self._made_from):
            self.discard()
        if self._running is None:
            running = self._start(*made_from)
            self._value = running.__enter__()
            self._running, self._made_from = running, made_from
        return self._value  # type: ignore[return-value]

    def discard(self) -> None:
        """Stop the running one (if any); the next :meth:`get` starts a new one."""
        running, self._running, self._value, self._made_from = self._running, None, None, ()
        if running is not None:
            running.__exit__(None, None, None)

    def for_test(self, request: pytest.FixtureRequest, *made_from: Any) -> Iterator[T]:
        """A function-scoped fixture's body: the shared one for this test, discarded if the test fails."""
        yield self.get(*made_from)
        if failed_so_far(request.node):
            self.discard()

    def __enter__(self) -> Shared[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()
