"""The automatic callback offer: once a waiting caller's estimated wait passes the tenant's
``[callbacks] offer_after``, the offer ("press star to be called back without losing your
place") is whispered into the call in the caller's language, once per caller.

The estimate is the position announcement's (:func:`ivr.position.estimated_wait_s` for the
caller's position now). The whisper works like the announcements: a snoop channel with
``whisper=out`` enters Stasis (purpose ``callback-announce``), the phrase is played on it
and the snoop hung up when it ends; music on hold keeps running underneath. The key itself
is app_queue's exit key (``[cc-queue-exit]``), so the caller may press it at any time.

:func:`due` is pure; :class:`OfferAnnouncer` runs it once a second against the live state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from callbacks.prompts import Media
from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.events import AriEvent
from ivr.position import SnoopAri

log = logging.getLogger(__name__)
PURPOSE = "callback-announce"
OFFER_PHRASE = "cb-offer"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A caller waiting in a queue of a tenant that offers callbacks automatically."""

    channel_id: str  # the queue channel (uniqueid)
    language: str
    estimate_s: float | None  # the position announcement's estimate now; None: unknown
    threshold_s: float  # the tenant's offer_after


def due(candidates: Iterable[Candidate], offered: set[str]) -> list[Candidate]:
    """Callers to offer a callback now: estimate past the threshold, not offered before."""
    return [
        c
        for c in candidates
        if c.threshold_s > 0
        and c.estimate_s is not None
        and c.estimate_s > c.threshold_s
        and c.channel_id not in offered
    ]


class OfferAnnouncer:
    """Register :meth:`on_stasis_start` for ``callback-announce`` and :meth:`on_event` for
    the other ARI events; :meth:`start` runs the once-a-second check."""

    def __init__(
        self,
        ari: SnoopAri,
        media: Media,
        candidates: Callable[[], Sequence[Candidate]],
        *,
        tick_s: float = 1.0,
    ) -> None:
        self._ari = ari
        self._media = media
        self._candidates = candidates
        self._tick_s = tick_s
        self._offered: set[str] = set()  # callers offered while they still wait
        self._pending: dict[str, str] = {}  # snoop channel id → language
        self._playbacks: dict[str, str] = {}  # playback id → snoop channel id
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.offers: list[str] = []  # callers offered, in order (for tests and logs)

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="callback-offer")

    async def close(self) -> None:
        for task in [*self._tasks, *([self._task] if self._task else [])]:
            task.cancel()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                self.check()
            except Exception:  # the live state is being rebuilt: try again next tick
                log.exception("callback offer check failed")
            await asyncio.sleep(self._tick_s)

    def check(self) -> list[Candidate]:
        """One pass: whisper the offer to every caller now due; returns them."""
        candidates = list(self._candidates())
        self._offered &= {c.channel_id for c in candidates}  # forget callers who left
        now_due = due(candidates, self._offered)
        for candidate in now_due:
            self._offered.add(candidate.channel_id)
            self.offers.append(candidate.channel_id)
            task = asyncio.get_running_loop().create_task(self._whisper(candidate))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return now_due

    async def _whisper(self, candidate: Candidate) -> None:
        snoop = f"{candidate.channel_id}-cbo"
        self._pending[snoop] = candidate.language
        try:
            await self._ari.snoop(
                candidate.channel_id, spy="none", whisper="out", app_args=PURPOSE, snoop_id=snoop
            )
        except AriError as exc:
            self._pending.pop(snoop, None)
            log.info("callback offer: snoop on %s failed: %s", candidate.channel_id, exc)

    async def on_stasis_start(self, event: AriEvent) -> None:
        snoop = event.channel_id or ""
        language = self._pending.get(snoop)
        if language is None:  # not ours (left from before a restart): end it
            with contextlib.suppress(AriError):
                await self._ari.hangup(snoop)
            return
        playback = f"{snoop}-pb"
        self._playbacks[playback] = snoop
        try:
            await self._ari.play(
                snoop, [self._media.phrase(OFFER_PHRASE)], lang=language, playback_id=playback
            )
        except AriError as exc:
            log.info("callback offer: play on %s failed: %s", snoop, exc)
            self._pending.pop(snoop, None)
            with contextlib.suppress(AriError):
                await self._ari.hangup(snoop)

    async def on_event(self, event: AriEvent) -> None:
        if event.type == "PlaybackFinished" and event.playback is not None:
            snoop = self._playbacks.pop(event.playback.id, None)
            if snoop is not None:
                self._pending.pop(snoop, None)
                with contextlib.suppress(AriError):
                    await self._ari.hangup(snoop)
        elif event.type in ("StasisEnd", "ChannelDestroyed") and event.channel_id:
            self._pending.pop(event.channel_id, None)
