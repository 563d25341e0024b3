"""Waiting on an event with a time limit, without losing a cancellation.

On CPython 3.11, ``asyncio.wait_for(event.wait(), t)`` returns normally when the task is
cancelled in the same loop iteration as the event is set (gh-86296, fixed in 3.12): a loop
of "wait for a wake-up or the interval" then never stops, and the app's shutdown waits for
it until its time limit (seen in every test that ended a call just before stopping the app).
``asyncio.timeout`` delivers the cancellation either way.
"""

from __future__ import annotations

import asyncio


async def wait_set(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set or ``timeout`` s passed; True if it is set."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
