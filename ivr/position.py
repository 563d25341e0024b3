"""Queue position and estimated wait, announced to callers waiting in app_queue.

The caller has left Stasis (app_queue owns the channel), so the app whispers into the call:
``POST /channels/{id}/snoop?whisper=out&app=<app>&appArgs=announce`` makes a snoop channel
that enters Stasis with purpose ``announce``; media played on it is mixed into what the
caller hears (music on hold keeps running underneath). The snoop is hung up when its
playback finishes. One loop per waiting caller: first after ``first_s``, then every
``every_s``, never two announcements at once, stopping once the live state no longer shows
the caller waiting (answered, abandoned, moved on) — then a running announcement is cut.

Numbers come from the live state (:class:`Waiting`): position, agents available and the
queue's averages as app_queue reports them (QueueParams ``Holdtime`` = average wait of
answered calls, i.e. ASA; ``TalkTime`` = average talk).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.events import AriEvent
from callcenter.pbx.ari.rest import SpyDirection
from callcenter.state.agents import Member
from callcenter.state.queues import QueueState
from ivr.announce import position_media
from ivr.queue_load import queue_loads

log = logging.getLogger(__name__)
PURPOSE = "announce"
POLL_S = 0.5  # how often a running announcement checks that the caller still waits
MAX_ANNOUNCEMENT_S = 60.0


@dataclass(frozen=True, slots=True)
class Waiting:
    """A caller waiting in a queue, as the live state sees it now."""

    queue: str
    position: int  # 1 = next
    asa_s: float  # queue's average wait of answered calls (0: unknown)
    aht_s: float  # queue's average talk time (0: unknown)
    agents_available: int


def estimated_wait_s(w: Waiting) -> float | None:
    """The longer of the queue's ASA and (callers ahead × talk time ÷ available agents);
    None when the queue has no history yet (then no wait is announced, only position)."""
    ahead = max(0, w.position - 1)
    by_load = ahead * w.aht_s / max(1, w.agents_available) if w.aht_s > 0 else 0.0
    estimate = max(w.asa_s, by_load)
    return estimate if estimate > 0 else None


def announcement(w: Waiting) -> list[str]:
    """Media for one announcement (position, then the estimated wait if known)."""
    return position_media(w.position, estimated_wait_s(w))


def waiting_in(
    queues: Mapping[str, QueueState], members: list[Member], now: float, channel_id: str
) -> Waiting | None:
    """Find the caller (ARI channel id = Asterisk uniqueid) among the waiting callers."""
    for name, queue in queues.items():
        caller = queue.waiting.get(channel_id)
        if caller is None:
            continue
        load = queue_loads({name: queue}, [m for m in members if m.queue == name], now)[name]
        return Waiting(
            name,
            max(1, caller.position),
            float(queue.pbx.get("holdtime", 0)),
            float(queue.pbx.get("talktime", 0)),
            load.agents_available,
        )
    return None


class SnoopAri(Protocol):
    async def snoop(
        self,
        channel_id: str,
        *,
        app: str | None = None,
        spy: SpyDirection = "both",
        whisper: SpyDirection = "none",
        app_args: str | None = None,
        snoop_id: str | None = None,
    ) -> object: ...

    async def play(
        self,
        channel_id: str,
        media: list[str] | str,
        *,
        lang: str | None = None,
        playback_id: str | None = None,
    ) -> object: ...

    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...


@dataclass(slots=True)
class _Pending:
    media: list[str]
    language: str
    done: asyncio.Future[None]


class PositionAnnouncer:
    """Periodic position announcements; register :meth:`on_stasis_start` for ``announce``
    and :meth:`on_event` for all other ARI events."""

    def __init__(self, ari: SnoopAri, lookup: Callable[[str], Waiting | None]) -> None:
        self._ari = ari
        self._lookup = lookup
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._pending: dict[str, _Pending] = {}  # snoop channel id → what to play
        self._playbacks: dict[str, str] = {}  # playback id → snoop channel id
        self._ids = itertools.count(1)
        self.announced: dict[str, list[list[str]]] = {}  # caller channel → media played

    @property
    def tracking(self) -> int:
        return len(self._loops)

    def track(self, channel_id: str, language: str, first_s: float, every_s: float) -> None:
        """Start announcing to ``channel_id`` (just handed to a queue); 0 s first: off."""
        if first_s <= 0 or channel_id in self._loops:
            return
        task = asyncio.get_running_loop().create_task(
            self._loop(channel_id, language, first_s, every_s)
        )
        self._loops[channel_id] = task
        task.add_done_callback(lambda _t: self._loops.pop(channel_id, None))

    async def on_stasis_start(self, event: AriEvent) -> None:
        snoop = event.channel_id or ""
        pending = self._pending.get(snoop)
        if pending is None:  # not ours (an old snoop after a restart): end it
            with contextlib.suppress(AriError):
                await self._ari.hangup(snoop)
            return
        playback_id = f"{snoop}-pb"
        self._playbacks[playback_id] = snoop
        try:
            await self._ari.play(
                snoop, pending.media, lang=pending.language, playback_id=playback_id
            )
        except AriError as exc:
            log.info("announce: play on %s failed: %s", snoop, exc)
            self._resolve(snoop)

    async def on_event(self, event: AriEvent) -> None:
        if event.type == "PlaybackFinished" and event.playback is not None:
            snoop = self._playbacks.pop(event.playback.id, None)
            if snoop is not None:
                with contextlib.suppress(AriError):
                    await self._ari.hangup(snoop)
                self._resolve(snoop)
        elif event.type in ("StasisEnd", "ChannelDestroyed") and event.channel_id:
            self._resolve(event.channel_id)

    async def close(self) -> None:
        for task in list(self._loops.values()):
            task.cancel()

    def _resolve(self, snoop: str) -> None:
        pending = self._pending.pop(snoop, None)
        if pending is not None and not pending.done.done():
            pending.done.set_result(None)

    async def _loop(self, channel_id: str, language: str, first_s: float, every_s: float) -> None:
        delay = first_s
        while True:
            await asyncio.sleep(delay)
            waiting = self._lookup(channel_id)
            if waiting is None:
                return  # answered or gone
            if not await self._announce(channel_id, language, announcement(waiting)):
                return
            if every_s <= 0:
                return
            delay = every_s

    async def _announce(self, channel_id: str, language: str, media: list[str]) -> bool:
        """One announcement, awaited to its end; False once the caller no longer waits."""
        snoop = f"{channel_id}-ann{next(self._ids)}"
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[snoop] = _Pending(media, language, done)
        try:
            await self._ari.snoop(
                channel_id, spy="none", whisper="out", app_args=PURPOSE, snoop_id=snoop
            )
        except AriError as exc:
            self._pending.pop(snoop, None)
            log.info("announce: snoop on %s failed: %s", channel_id, exc)
            return exc.status != 404 and self._lookup(channel_id) is not None
        self.announced.setdefault(channel_id, []).append(media)
        waited = 0.0
        while not done.done() and waited < MAX_ANNOUNCEMENT_S:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(done), POLL_S)
            waited += POLL_S
            if not done.done() and self._lookup(channel_id) is None:
                break  # answered mid-announcement: stop whispering into the conversation
        if not done.done():
            with contextlib.suppress(AriError):
                await self._ari.hangup(snoop)
            self._resolve(snoop)
        return self._lookup(channel_id) is not None
