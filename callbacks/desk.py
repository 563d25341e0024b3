"""The callback key while waiting in a queue: runs :class:`~.offer.OfferDialog` over ARI.

app_queue lets the caller out on the callback key (``[cc-queue-exit]``) and the channel
enters Stasis with purpose ``callback-offer`` and the queue as argument. The caller
keeps the place they had: the request stores when they joined the queue (``arrival_at``)
and their queue priority, so the dispatcher puts the placeholder exactly there
(:mod:`.ordering`). The row is committed before the caller hears the promise; the promise
uses the live estimate for the position they had (and the wait until the tenant opens, if
it is closed or about to close). A caller who leaves this way is ``diverted``
(``CC_OUTCOME=callback``), never an abandoned call.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from callbacks.offer import (
    DialogEffect,
    Finish,
    OfferDialog,
    Play,
    StartTimer,
    StopPlayback,
    Store,
    Validate,
)
from callbacks.prompts import Media
from callbacks.store import Added, CallbackRateLimited, NewCallback, callback_number
from callbacks.window import Window
from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.events import AriEvent
from callcenter.pbx.ari.ports import HangingUp, Leaving, Playing, ReadingVars, SettingVars
from callcenter.phone.policy import DestinationPolicy, DestinationRefused

log = logging.getLogger(__name__)
PURPOSE = "callback-offer"
HANDOFF = "callback"  # the IVR menu's callback node and overflow ([cc-callback])
REJOIN_CONTEXT = "cc-queue-rejoin"  # back into the queue at CC_REJOIN_POSITION


@dataclass(frozen=True, slots=True)
class QueuePlace:
    """Where the caller was when pressing the key (from the live state)."""

    joined_at: float  # epoch seconds
    position: int
    estimate_s: float | None  # the position announcement's estimate for that place


class OfferAri(ReadingVars, SettingVars, Playing, Leaving, HangingUp, Protocol):
    """The ARI requests the offer desk needs."""


class RequestStore(Protocol):
    async def add_or_merge(self, request: NewCallback) -> Added: ...


@dataclass(slots=True)
class _Call:
    channel_id: str
    dialog: OfferDialog
    tenant: str
    queue: str
    language: str
    linkedid: str
    priority: int
    place: QueuePlace | None
    joined_at: float
    source: str = "queue"
    playback: str | None = None
    pending_timer: float | None = None
    timer: asyncio.Task[None] | None = None
    seq: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OfferDesk:
    def __init__(
        self,
        ari: OfferAri,
        store: RequestStore,
        media: Media,
        *,
        region: str = "DE",
        policy: Callable[[str], DestinationPolicy] | None = None,
        place_of: Callable[[str], QueuePlace | None] = lambda _linkedid: None,
        end_of: Callable[[str], QueuePlace | None] = lambda _queue: None,
        window: Callable[[str, datetime], Window] | None = None,
        on_stored: Callable[[int], None] = lambda _id: None,
        enabled: Callable[[str], bool] = lambda _slug: True,
        clock: Callable[[], datetime] = _utcnow,
        timeout_scale: float = 1.0,
    ) -> None:
        self._ari = ari
        self._store = store
        self._media = media
        self._region = region
        default = DestinationPolicy.for_country(region)
        self._policy = policy or (lambda _slug: default)
        self._place_of = place_of
        self._end_of = end_of
        self._window = window
        self._on_stored = on_stored
        self._enabled = enabled
        self._clock = clock
        self._scale = timeout_scale
        self._calls: dict[str, _Call] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.stored: list[int] = []
        self.refused: list[str] = []
        self.rejoined: list[str] = []  # channels sent back into their queue (callbacks off)
        self.played: dict[str, list[tuple[str, ...]]] = {}  # channel → prompts, in order

    async def on_stasis_start(self, event: AriEvent) -> None:
        channel_id = event.channel_id
        if channel_id is None:
            return
        queue = event.args[1] if len(event.args) > 1 else ""
        self._spawn(self._begin(channel_id, queue))

    async def on_handoff(self, event: AriEvent) -> None:
        """Purpose ``callback``: the IVR menu's callback node (or an overflow) sent the
        caller here with the number it knows (``CC_CALLBACK_NUMBER``, empty when anonymous).
        The same dialog: the number is read back to confirm, or another keyed in; the
        callback joins the end of the queue (the caller never waited in it)."""
        channel_id = event.channel_id
        if channel_id is None:
            return
        queue = event.args[1] if len(event.args) > 1 else ""
        self._spawn(self._begin(channel_id, queue, source="ivr"))

    async def on_event(self, event: AriEvent) -> None:
        """Never waits for the PBX or the database: the ARI event loop must go on (an ARI
        request awaited here would hold back every other feature's events)."""
        channel_id = event.channel_id or ""
        if event.type == "ChannelDtmfReceived" and channel_id in self._calls:
            call = self._calls[channel_id]
            self._spawn(self._locked(call, lambda: call.dialog.on_digit(event.digit)))
        elif event.type == "PlaybackFinished" and event.playback is not None:
            for call in list(self._calls.values()):
                if call.playback == event.playback.id:
                    call.playback = None
                    if call.pending_timer is not None:
                        self._arm(call, call.pending_timer)
                    self._spawn(self._locked(call, call.dialog.on_playback_finished))
        elif event.type in ("StasisEnd", "ChannelDestroyed") and channel_id in self._calls:
            self._drop(channel_id)

    async def _locked(self, call: _Call, step: Callable[[], list[DialogEffect]]) -> None:
        """One step of one caller's dialog at a time, in the order the events came."""
        async with call.lock:
            await self._run(call, step())

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for channel_id in list(self._calls):
            self._drop(channel_id)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _drop(self, channel_id: str) -> None:
        call = self._calls.pop(channel_id, None)
        if call is not None and call.timer is not None:
            call.timer.cancel()

    async def _begin(self, channel_id: str, queue: str, source: str = "queue") -> None:
        get = self._ari.get_var
        ivr = source == "ivr"
        try:
            tenant = await get(channel_id, "CC_TENANT") or ""
            language = (
                (await get(channel_id, "CC_LANGUAGE") if ivr else None)
                or await get(channel_id, "CHANNEL(language)")
                or "de"
            )
            linkedid = await get(channel_id, "CHANNEL(linkedid)") or channel_id
            caller_raw = await get(channel_id, "CC_CALLBACK_NUMBER" if ivr else "CALLERID(num)")
            prio = await get(channel_id, "QUEUE_PRIO")
            entered = None if ivr else await get(channel_id, "CC_QUEUE_ENTERED")
        except AriError as exc:
            log.info("callback offer on %s: %s", channel_id, exc)
            return
        place = self._end_of(queue) if ivr else self._place_of(linkedid)
        if not ivr and not self._enabled(tenant):
            await self._rejoin(channel_id, queue, place)
            return
        try:
            caller: str | None = callback_number(caller_raw, self._policy(tenant))
        except DestinationRefused:
            caller = None  # anonymous or not callable: ask for a number
        joined = place.joined_at if place else _float(entered, self._clock().timestamp())
        dialog = OfferDialog(self._media, self._region, caller)
        call = _Call(
            channel_id, dialog, tenant, queue, language, linkedid, _int(prio), place, joined, source
        )
        self._calls[channel_id] = call
        await self._locked(call, dialog.start)

    async def _rejoin(self, channel_id: str, queue: str, place: QueuePlace | None) -> None:
        """Callbacks are off for this tenant ([callbacks] enabled = false): the key takes
        the caller back into the queue at the place they had, not out of it."""
        position = place.position if place is not None else 1
        self.rejoined.append(channel_id)
        try:
            await self._ari.set_var(channel_id, "CC_REJOIN_POSITION", str(position))
            await self._ari.continue_in_dialplan(channel_id, REJOIN_CONTEXT, queue or "s", 1)
        except AriError as exc:
            log.info("callback key on %s (callbacks off): %s", channel_id, exc)

    async def _run(self, call: _Call, effects: list[DialogEffect]) -> None:
        for effect in effects:
            if call.channel_id not in self._calls:
                return
            try:
                await self._apply(call, effect)
            except AriError as exc:  # hung up meanwhile: a stored row stays valid
                log.info("callback offer on %s: %s", call.channel_id, exc)
                self._drop(call.channel_id)
                return

    async def _apply(self, call: _Call, effect: DialogEffect) -> None:
        ari = self._ari
        log.debug("callback offer on %s: %s", call.channel_id, effect)
        match effect:
            case Play(media=media):
                if call.timer is not None:
                    call.timer.cancel()
                call.seq += 1
                call.playback = f"{call.channel_id}-cbo{call.seq}"
                call.pending_timer = None
                self.played.setdefault(call.channel_id, []).append(media)
                await ari.play(
                    call.channel_id, list(media), lang=call.language, playback_id=call.playback
                )
            case StopPlayback():
                if call.playback is not None:
                    playback, call.playback = call.playback, None
                    try:
                        await ari.stop_playback(playback)
                    except AriError as exc:  # finished meanwhile
                        log.debug("callback offer: stop %s: %s", playback, exc)
            case StartTimer(seconds=seconds):
                if call.playback is not None:  # counts from the end of the prompt
                    call.pending_timer = seconds
                else:
                    self._arm(call, seconds)
            case Validate(raw=raw):
                await self._run(call, self._validate(call, raw))
            case Store(number=number):
                await self._run(call, await self._store_request(call, number))
            case Finish(voicemail=True, reason=reason):
                self._drop(call.channel_id)
                await ari.set_var(call.channel_id, "CC_REASON", reason)
                await ari.continue_in_dialplan(call.channel_id)
            case Finish():
                self._drop(call.channel_id)
                await ari.hangup(call.channel_id)

    def _arm(self, call: _Call, seconds: float) -> None:
        if call.timer is not None:
            call.timer.cancel()
        call.pending_timer = None

        async def fire() -> None:
            await asyncio.sleep(seconds * self._scale)
            call.timer = None
            await self._locked(call, call.dialog.on_timeout)

        call.timer = asyncio.get_running_loop().create_task(fire())

    def _validate(self, call: _Call, raw: str) -> list[DialogEffect]:
        try:
            number = callback_number(raw, self._policy(call.tenant))
        except DestinationRefused as exc:
            self.refused.append(str(exc.reason))
            log.info("callback offer: %s refused (%s)", raw, exc.reason)
            return call.dialog.on_validated(None, str(exc.reason))
        return call.dialog.on_validated(number)

    async def _store_request(self, call: _Call, number: str) -> list[DialogEffect]:
        now = self._clock()
        due: datetime | None = None
        if self._window is not None:
            window = self._window(call.tenant, now)
            due = None if window.open else window.next_at
        estimate = call.place.estimate_s if call.place else None
        start = due or now
        promised = start + timedelta(seconds=estimate or 0)
        request = NewCallback(
            call.tenant,
            number,
            call.queue,
            call.language,
            call.linkedid,
            now,
            arrival_at=datetime.fromtimestamp(call.joined_at, UTC),
            priority=call.priority,
            wait_seconds=max(0.0, now.timestamp() - call.joined_at),
            source=call.source,
            due_at=due,
            promised_at=promised,
        )
        try:
            added = await self._store.add_or_merge(request)
        except (CallbackRateLimited, DestinationRefused) as exc:
            self.refused.append(getattr(exc, "reason", "refused"))
            return call.dialog.on_store_failed()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("callback for %s not stored (%s): voicemail instead", call.linkedid, exc)
            return call.dialog.on_store_failed()
        self.stored.append(added.id)
        self._on_stored(added.id)
        await self._ari.set_var(call.channel_id, "CC_CALLBACK_ID", str(added.id))
        await self._ari.set_var(call.channel_id, "CC_OUTCOME", "callback")
        wait_s = (promised - now).total_seconds()
        minutes = math.ceil(wait_s / 60) if wait_s > 0 else None
        return call.dialog.on_stored(minutes)


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _float(value: str | None, default: float) -> float:
    try:
        return float(value) if value else default
    except ValueError:
        return default
