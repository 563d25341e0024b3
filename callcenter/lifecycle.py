"""Bounded shutdown of the app's long-lived parts (aiohttp cleanup contexts).

aiohttp runs cleanup contexts one after the other, newest first, and waits for each. One
part that never finishes stopping (a worker waiting on a stuck job, a socket that never
closes) would then keep every older part running: in particular the PBX lifecycle, whose
ARI lease would go on renewing and take the ARI application back from whoever owns it
next. So each part gets a time limit for its shutdown; past it, the part is logged and
left behind, and the shutdown goes on with the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter.services import Lifecycle

log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 10.0


def bounded_shutdown(lifecycle: Lifecycle, seconds: float = SHUTDOWN_SECONDS) -> Lifecycle:
    """``lifecycle`` with its start-up unchanged and its shutdown limited to ``seconds``."""
    name = getattr(lifecycle, "__qualname__", repr(lifecycle))

    async def run(app: web.Application) -> AsyncIterator[None]:
        steps = lifecycle(app)
        await anext(steps)
        yield
        finish = asyncio.ensure_future(anext(steps, None))
        done, _ = await asyncio.wait({finish}, timeout=seconds)
        if not done:
            log.error(
                "shutdown of %s did not finish within %.0f s; left behind; waiting in %s",
                name,
                seconds,
                _awaiting(steps),
            )
            return
        finish.result()  # an error in the part's shutdown is raised as before

    run.__qualname__ = f"bounded_shutdown({name})"
    return run


def _awaiting(steps: AsyncIterator[None]) -> str:
    """Where a part's shutdown waits: its frames down the await chain (a task's
    ``get_stack`` would show only the outermost frame of a suspended coroutine)."""
    where: list[str] = []
    link: object = steps
    while link is not None and len(where) < 30:
        frame = next(
            (getattr(link, a) for a in ("ag_frame", "cr_frame", "gi_frame") if hasattr(link, a)),
            None,
        )
        if frame is not None:
            where.append(
                f"{frame.f_code.co_qualname} ({frame.f_code.co_filename}:{frame.f_lineno})"
            )
        link = next(
            (
                getattr(link, a)
                for a in ("ag_await", "cr_await", "gi_yieldfrom")
                if hasattr(link, a)
            ),
            None,
        )
    return " > ".join(where) or "(unknown)"
