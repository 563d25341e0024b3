"""Routes channels entering the Stasis application to the feature that owns them.

The dialplan enters Stasis with a first argument naming the purpose (``inbound`` for calls
from the trunk; later ``callback``, ``voicemail`` …). A feature registers a handler for its
purpose; a channel whose purpose has no handler is sent back to the dialplan at once, so an
unconfigured feature degrades to the dialplan's fallback (the tenant's queue or voicemail,
``cc-fallback``) instead of leaving the caller in silence.

Orphans: Asterisk keeps channels in the application while no websocket is connected (the
app was killed or restarted, or another instance owned it). Nobody would ever send them a
StasisStart again, so on the process's first connect :meth:`StasisDispatcher.recover` hands
each one back to the dialplan (its next priority is the fallback route) or hangs up helper
legs (snoop channels of position announcements), which are never calls of their own.
Channels a feature claims (:meth:`StasisDispatcher.claim`: the callback dialler's
placeholders and customer legs, which it adopts by their ids after a restart) are left to
that feature: handing them back would hang them up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.events import AriEvent
from callcenter.pbx.ari.models import Channel
from callcenter.state.channels import is_helper_channel

log = logging.getLogger(__name__)

StasisHandler = Callable[[AriEvent], Awaitable[None]]
# Seconds a recovery waits after listing the app's channels: a StasisStart for a channel
# that entered just now may still be on its way, and such a channel is not an orphan.
SETTLE_S = 0.3


class ContinueApi(Protocol):
    async def continue_in_dialplan(self, channel_id: str) -> None: ...


class RecoverApi(ContinueApi, Protocol):
    async def application_channels(self) -> list[str]: ...

    async def channel(self, channel_id: str) -> Channel: ...

    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...


class StasisDispatcher:
    """Dispatch ``StasisStart`` by purpose; everything else goes to every other listener."""

    def __init__(self, ari: ContinueApi) -> None:
        self._ari = ari
        self._handlers: dict[str, StasisHandler] = {}
        self._claims: list[Callable[[str], bool]] = []
        self._started: set[str] = set()  # StasisStart seen while a recovery runs
        self._recovering = False
        self.recovered = 0  # orphans handed back or hung up so far (metrics, tests)

    def register(self, purpose: str, handler: StasisHandler) -> None:
        if purpose in self._handlers:
            raise ValueError(f"Stasis purpose {purpose!r} already has a handler")
        self._handlers[purpose] = handler

    def claim(self, owns: Callable[[str], bool]) -> None:
        """Leave channels for which ``owns(channel_id)`` is true out of :meth:`recover`:
        their feature recovers them itself."""
        self._claims.append(owns)

    async def __call__(self, event: AriEvent) -> None:
        if event.type != "StasisStart":
            return
        if self._recovering and event.channel_id:
            self._started.add(event.channel_id)
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

    async def recover(self, api: RecoverApi) -> int:
        """Hand back every channel in the application that this process never saw start;
        returns how many. Call once, right after the first connect of a process (or of an
        instance that just took the application over)."""
        self._recovering = True
        self._started.clear()
        try:
            ids = await api.application_channels()
            if not ids:
                return 0
            await asyncio.sleep(SETTLE_S)
            count = 0
            for channel_id in ids:
                if channel_id in self._started or any(own(channel_id) for own in self._claims):
                    continue
                if await self._recover_one(api, channel_id):
                    count += 1
            self.recovered += count
            if count:
                log.warning("stasis: %d call(s) found in Stasis from before; handed back", count)
            return count
        finally:
            self._recovering = False
            self._started.clear()

    async def _recover_one(self, api: RecoverApi, channel_id: str) -> bool:
        try:
            channel = await api.channel(channel_id)
            if is_helper_channel(channel.name):
                await api.hangup(channel_id)
            else:
                await api.continue_in_dialplan(channel_id)
        except AriError as exc:  # gone meanwhile
            log.info("stasis: orphan %s not recovered: %s", channel_id, exc)
            return False
        return True
