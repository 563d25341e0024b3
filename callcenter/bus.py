"""Domain-event bus: in-process by default, Redis pub/sub when ``redis.url`` is set.

Events are plain JSON-able dicts with a ``type`` key, published on a topic such as
``calls``, ``queues`` or ``agents``. Subscribers receive them in publish order per topic.
A Redis restart loses only in-flight fan-out, never state: PostgreSQL is the source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

log = logging.getLogger(__name__)

Event = dict[str, Any]


class Bus(Protocol):
    async def publish(self, topic: str, event: Event) -> None: ...

    def subscribe(self, *topics: str) -> AsyncIterator[tuple[str, Event]]: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class InProcessBus:
    """Fan-out to asyncio queues; slow subscribers drop oldest events rather than block."""

    def __init__(self, queue_size: int = 10_000) -> None:
        self._subs: dict[str, set[asyncio.Queue[tuple[str, Event]]]] = {}
        self._queue_size = queue_size

    async def publish(self, topic: str, event: Event) -> None:
        for queue in tuple(self._subs.get(topic, ())) + tuple(self._subs.get("*", ())):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait((topic, event))

    async def subscribe(self, *topics: str) -> AsyncIterator[tuple[str, Event]]:
        queue: asyncio.Queue[tuple[str, Event]] = asyncio.Queue(self._queue_size)
        names = topics or ("*",)
        for topic in names:
            self._subs.setdefault(topic, set()).add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            for topic in names:
                self._subs.get(topic, set()).discard(queue)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._subs.clear()


class RedisBus:
    """Redis pub/sub under one key prefix, so several app instances share the events."""

    def __init__(self, url: str, prefix: str = "callcenter:bus:") -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url, decode_responses=True)
        self._prefix = prefix

    async def publish(self, topic: str, event: Event) -> None:
        await self._redis.publish(self._prefix + topic, json.dumps(event, default=str))

    async def subscribe(self, *topics: str) -> AsyncIterator[tuple[str, Event]]:
        """Events in publish order; survives Redis restarts by subscribing again (with
        backoff). What was published while Redis was away is lost: fan-out only."""
        from redis.exceptions import RedisError

        delay = 0.2
        while True:
            pubsub = self._redis.pubsub()
            try:
                if topics:
                    await pubsub.subscribe(*(self._prefix + t for t in topics))
                else:
                    await pubsub.psubscribe(self._prefix + "*")
                delay = 0.2
                async for msg in pubsub.listen():
                    if msg.get("type") not in ("message", "pmessage"):
                        continue
                    channel = str(msg["channel"])[len(self._prefix) :]
                    try:
                        event = json.loads(msg["data"])
                    except (ValueError, TypeError):
                        log.warning("bus: dropped undecodable message on %s", channel)
                        continue
                    yield channel, event
            except (RedisError, OSError) as exc:
                log.warning("bus: Redis subscription lost (%s); again in %.1f s", exc, delay)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        from redis.exceptions import RedisError

        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()


def make_bus(redis_url: str) -> Bus:
    return RedisBus(redis_url) if redis_url else InProcessBus()
