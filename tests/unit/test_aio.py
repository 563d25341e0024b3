"""wait_set: a wake-up loop stops when cancelled, even as its event is set (3.11's
``wait_for`` swallowed that cancellation and hung the app's shutdown)."""

from __future__ import annotations

import asyncio

from callcenter.aio import wait_set


async def _wake_loop(event: asyncio.Event) -> None:
    while True:
        await wait_set(event, 5.0)
        event.clear()
        await asyncio.sleep(0)


async def test_cancel_in_the_same_iteration_as_the_wake_up_is_not_lost() -> None:
    for _ in range(50):
        event = asyncio.Event()
        task = asyncio.create_task(_wake_loop(event))
        await asyncio.sleep(0.001)  # the loop waits on the event
        event.set()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2.0)
        assert task in done and task.cancelled()


async def test_reports_whether_the_event_was_set() -> None:
    event = asyncio.Event()
    assert await wait_set(event, 0.01) is False
    event.set()
    assert await wait_set(event, 0.01) is True
