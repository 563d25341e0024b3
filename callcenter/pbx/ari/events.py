"""ARI events: a typed wrapper over the websocket JSON, and in-order subscriptions.

Parsing is pure (:func:`parse_event`); the websocket loop that feeds it lives in
:mod:`callcenter.pbx.ari.client`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from callcenter.pbx.ari.models import Bridge, Channel, LiveRecording, Playback


class EventParseError(ValueError):
    """A websocket frame was not a JSON ARI event."""


@dataclass(frozen=True, slots=True)
class AriEvent:
    """One ARI event. Typed accessors parse the nested objects on demand."""

    type: str
    application: str
    timestamp: str
    raw: dict[str, Any] = field(repr=False, compare=False)
    received: float = field(default_factory=time.monotonic, compare=False)

    @property
    def channel(self) -> Channel | None:
        data = self.raw.get("channel")
        return Channel.from_json(data) if isinstance(data, dict) else None

    @property
    def peer(self) -> Channel | None:
        data = self.raw.get("peer")
        return Channel.from_json(data) if isinstance(data, dict) else None

    @property
    def bridge(self) -> Bridge | None:
        data = self.raw.get("bridge")
        return Bridge.from_json(data) if isinstance(data, dict) else None

    @property
    def playback(self) -> Playback | None:
        data = self.raw.get("playback")
        return Playback.from_json(data) if isinstance(data, dict) else None

    @property
    def recording(self) -> LiveRecording | None:
        data = self.raw.get("recording")
        return LiveRecording.from_json(data) if isinstance(data, dict) else None

    @property
    def channel_id(self) -> str | None:
        data = self.raw.get("channel")
        return str(data["id"]) if isinstance(data, dict) and "id" in data else None

    @property
    def args(self) -> list[str]:
        """StasisStart application arguments."""
        return [str(a) for a in self.raw.get("args") or ()]

    @property
    def digit(self) -> str:
        """ChannelDtmfReceived digit."""
        return str(self.raw.get("digit") or "")


def parse_event(frame: str | bytes) -> AriEvent:
    """Turn one websocket text frame into an :class:`AriEvent`."""
    try:
        data = json.loads(frame)
    except ValueError as exc:
        raise EventParseError(f"ARI event is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise EventParseError("ARI event has no 'type'")
    return AriEvent(
        type=data["type"],
        application=str(data.get("application") or ""),
        timestamp=str(data.get("timestamp") or ""),
        raw=data,
    )


EventPredicate = Callable[[AriEvent], bool]


class Subscription:
    """An in-order queue of events; unbounded so a slow reader never drops one."""

    def __init__(self, on_close: Callable[[Subscription], None] | None = None) -> None:
        self._queue: asyncio.Queue[AriEvent] = asyncio.Queue()
        self._on_close = on_close

    def put(self, event: AriEvent) -> None:
        self._queue.put_nowait(event)

    async def get(self, timeout: float | None = None) -> AriEvent:
        """Next event; ``TimeoutError`` after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            return await self._queue.get()

    async def wait_for(
        self,
        type: str | tuple[str, ...],
        predicate: EventPredicate | None = None,
        timeout: float = 10.0,
    ) -> AriEvent:
        """Skip events until one of ``type`` matching ``predicate`` arrives."""
        types = (type,) if isinstance(type, str) else type
        async with asyncio.timeout(timeout):
            while True:
                event = await self._queue.get()
                if event.type in types and (predicate is None or predicate(event)):
                    return event

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close(self)
            self._on_close = None

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def for_channel(channel_id: str) -> EventPredicate:
    """Predicate: the event concerns ``channel_id``."""
    return lambda event: event.channel_id == channel_id
