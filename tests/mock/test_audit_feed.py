"""The one audit fan-out (verifier/audit_feed.py) behind the mock's admin feed and the API's /ws/audit:
events published on the verifier's threads reach an asyncio consumer, bounded, and stop when it leaves."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from tests.support.event_loop import run_on_own_thread
from verifier.audit_feed import audit_queue


@pytest.fixture
def verifier(tmp_path):
    from tests.mock.support import verifier_settings
    from verifier.service import Verifier
    from verifier.store import open_store

    v = Verifier(open_store(f"sqlite:///{tmp_path / 'feed.db'}"), verifier_settings(8080, server_key=os.urandom(32)))
    yield v
    v.store.close()


def create_users_on_a_thread(verifier, names) -> None:
    """What a worker thread of the server does: each call publishes one ``user_created`` event."""
    thread = threading.Thread(target=lambda: [verifier.create_user(n, "pw-123456") for n in names])
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()  # the publisher never waits for the consumer


async def drained(queue: asyncio.Queue) -> list[str]:
    await asyncio.sleep(0)  # one loop turn runs every callback the thread scheduled before it
    names = []
    while not queue.empty():
        names.append(queue.get_nowait()["username"])
    return names


def test_events_published_on_another_thread_arrive_in_order(verifier):
    async def scenario() -> list[str]:
        with audit_queue(verifier) as queue:
            create_users_on_a_thread(verifier, ["ann", "ben", "cat"])
            return await drained(queue)

    assert run_on_own_thread(scenario) == ["ann", "ben", "cat"]


def test_a_consumer_that_falls_behind_loses_the_newest_events_not_the_publisher(verifier):
    async def scenario() -> list[str]:
        with audit_queue(verifier, limit=2) as queue:
            create_users_on_a_thread(verifier, ["dan", "eve", "fay"])
            return await drained(queue)

    assert run_on_own_thread(scenario) == ["dan", "eve"]


def test_leaving_the_block_stops_the_events(verifier):
    async def scenario() -> list[str]:
        with audit_queue(verifier) as queue:
            pass
        create_users_on_a_thread(verifier, ["gus"])
        return await drained(queue)

    assert run_on_own_thread(scenario) == []
