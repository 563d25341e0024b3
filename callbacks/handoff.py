"""Accepting a callback in the IVR: the ``callback`` Stasis purpose.

The IVR's callback hand-off continues the call into ``[cc-callback]``, which enters Stasis
again with purpose ``callback`` and the queue as second argument. Here the app reads the
number the IVR left (``CC_CALLBACK_NUMBER``), validates it with the tenant's destination
policy (:mod:`callcenter.phone.policy`), stores the request durably, thanks the
caller in their language and hangs up. The row is written before the caller hears the
confirmation, so a confirmed callback is never lost.

When the number cannot be called back, or the database refuses the row, the call goes
back to the dialplan, whose next step is voicemail: the caller still leaves a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from callbacks.store import NewCallback, callback_number
from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.events import AriEvent
from callcenter.phone.policy import DestinationPolicy, DestinationRefused

log = logging.getLogger(__name__)
PURPOSE = "callback"
CONFIRM_MEDIA = ("sound:auth-thankyou", "sound:vm-goodbye")  # in de and en sound sets


class CallbackStore(Protocol):
    async def add(self, request: NewCallback) -> int: ...


class CallbackAri(Protocol):
    async def get_var(self, channel_id: str, name: str) -> str | None: ...

    async def set_var(self, channel_id: str, name: str, value: str) -> None: ...

    async def play(
        self,
        channel_id: str,
        media: Sequence[str] | str,
        *,
        lang: str | None = None,
        playback_id: str | None = None,
    ) -> Any: ...

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
    ) -> None: ...

    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CallbackDesk:
    """Stores accepted callback offers (handler of the ``callback`` Stasis purpose)."""

    def __init__(
        self,
        ari: CallbackAri,
        store: CallbackStore,
        *,
        region: str = "DE",
        policy: Callable[[str], DestinationPolicy] | None = None,
        confirm_media: Sequence[str] = CONFIRM_MEDIA,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._ari = ari
        self._store = store
        # Tenant slug → its destination policy; without one, the default of ``region``.
        default = DestinationPolicy.for_country(region)
        self._policy = policy or (lambda _slug: default)
        self._confirm = tuple(confirm_media)
        self._clock = clock
        self._confirming: dict[str, str] = {}  # playback id → channel id
        self._tasks: set[asyncio.Task[None]] = set()
        self.stored = 0
        self.refused = 0

    async def on_stasis_start(self, event: AriEvent) -> None:
        if event.channel_id is None:
            return
        queue = event.args[1] if len(event.args) > 1 else ""
        # Own task: the event dispatcher must not wait for the database.
        task = asyncio.get_running_loop().create_task(self._accept(event.channel_id, queue))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def on_event(self, event: AriEvent) -> None:
        if event.type == "StasisEnd" and event.channel_id:  # hung up during the thanks
            self._confirming.pop(f"{event.channel_id}-cbok", None)
            return
        if event.type != "PlaybackFinished" or event.playback is None:
            return
        channel_id = self._confirming.pop(event.playback.id, None)
        if channel_id is not None:
            with contextlib.suppress(AriError):
                await self._ari.hangup(channel_id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def _accept(self, channel_id: str, queue: str) -> None:
        ari = self._ari
        try:
            get = ari.get_var
            tenant = await get(channel_id, "CC_TENANT") or ""
            raw = await get(channel_id, "CC_CALLBACK_NUMBER") or ""
            language = (
                await get(channel_id, "CC_LANGUAGE")
                or await get(channel_id, "CHANNEL(language)")
                or ""
            )
            linkedid = await get(channel_id, "CHANNEL(linkedid)") or channel_id
            try:
                number = callback_number(raw, self._policy(tenant))
                request = NewCallback(tenant, number, queue, language, linkedid, self._clock())
                request_id = await self._store.add(request)
            except (DestinationRefused, SQLAlchemyError, OSError) as exc:
                self.refused += 1
                log.warning("callback for %s not stored (%s): voicemail instead", channel_id, exc)
                reason = (
                    "callback-number" if isinstance(exc, DestinationRefused) else ("callback-store")
                )
                await ari.set_var(channel_id, "CC_REASON", reason)
                await ari.continue_in_dialplan(channel_id)  # → Set(CC_OUTCOME=voicemail) …
                return
            self.stored += 1
            await ari.set_var(channel_id, "CC_CALLBACK_ID", str(request_id))
            playback_id = f"{channel_id}-cbok"
            self._confirming[playback_id] = channel_id
            await ari.play(
                channel_id, list(self._confirm), lang=language or None, playback_id=playback_id
            )
        except AriError as exc:  # the caller hung up meanwhile; a stored row stays valid
            log.info("callback on %s: %s", channel_id, exc)
