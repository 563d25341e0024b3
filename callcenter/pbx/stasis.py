"""Routes channels entering the Stasis application to the feature that owns them.

The dialplan enters Stasis with a first argument naming the purpose (``inbound`` for calls
from the trunk; later ``callback``, ``voicemail`` …). A feature registers a handler for its
purpose; a channel whose purpose has no handler is sent back to the dialplan at once, so an
unconfigured feature degrades to the dialplan's fallback (e.g. the default queue) instead of
leaving the caller in silence.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.events import AriEvent

log = logging.getLogger(__name__)

StasisHandler = Callable[[AriEvent], Awaitable[None]]


class ContinueApi(Protocol):
    async def continue_in_dialplan(self, channel_id: str) -> None: ...


class StasisDispatcher:
    """Dispatch ``StasisStart`` by purpose; everything else goes to every other listener."""

    def __init__(self, ari: ContinueApi) -> None:
        self._ari = ari
        self._handlers: dict[str, StasisHandler] = {}

    def register(self, purpose: str, handler: StasisHandler) -> None:
        if purpose in self._handlers:
            raise ValueError(f"Stasis purpose {purpose!r} already has a handler")
        self._handlers[purpose] = handler

    async def __call__(self, event: AriEvent) -> None:
        if event.type != "StasisStart":
            return
        args = event.args
        purpose = args[0] if args else ""
        handler = self._handlers.get(purpose)
        if handler is not None:
            await handler(event)
            return
        channel_id = event.channel_id
        if channel_id is None:
            return
        try:
            await self._ari.continue_in_dialplan(channel_id)
        except AriError as exc:  # the caller may have hung up meanwhile
            log.info("stasis: could not continue %s: %s", channel_id, exc)
