"""The shape of a feature plug-in, and typed ports between features.

A feature is a top-level package (``ivr``, ``crm``, ``agents`` …) with one ``plugin.py``
exporting ``FEATURE = Feature(...)``. The composition root (``composition/features.py``)
lists the features in wiring order; nothing in the core names a feature. What a feature
contributes:

- ``models``: modules whose import registers its tables on ``Base.metadata`` (migrations
  and the drift check see them through :func:`callcenter.db.migrate.target_metadata`);
- ``wire(services)``: HTTP routes (``services.http_setups``), Stasis purposes
  (``services.pbx.stasis.register``), bus subscriptions (:func:`subscription`), background
  tasks (:func:`background`, ``services.lifecycles``) and typed values for later features
  (``services.provide(PORT, value)``);
- ``commands(sub)``: its ``callcenter`` sub-commands.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from callcenter.bus import Bus, Event

if TYPE_CHECKING:
    from callcenter.services import Lifecycle, Services

log = logging.getLogger(__name__)

# argparse's sub-command registry (``parser.add_subparsers()``), typed.
Subcommands = argparse._SubParsersAction  # argparse has no public name for it
Wire = Callable[["Services"], None]
Commands = Callable[["Subcommands[argparse.ArgumentParser]"], None]


@dataclass(frozen=True)
class Feature:
    """What one feature package adds to the app (see the module docstring)."""

    name: str
    models: tuple[str, ...] = ()
    wire: Wire | None = None
    commands: Commands | None = None


def background(name: str, run: Callable[[], Coroutine[object, object, None]]) -> Lifecycle:
    """A lifecycle running ``run()`` as one task from app start-up until shutdown."""

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run(), name=name)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


def subscription(
    bus: Bus, topics: tuple[str, ...], handle: Callable[[str, Event], Awaitable[None]]
) -> Lifecycle:
    """A lifecycle feeding every event on ``topics`` to ``handle``; a handler that raises
    is logged and the subscription carries on."""

    async def consume() -> None:
        async for topic, event in bus.subscribe(*topics):
            try:
                await handle(topic, event)
            except Exception:
                log.exception("bus: handler for %s failed on %s", topic, event.get("type"))

    return background(f"bus:{','.join(topics)}", consume)
