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
import time
from collections.abc import AsyncIterator, Callable
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


class Outage:
    """One warning when a dependency becomes unreachable, one line when it is back, and
    counters for /metrics in between: an outage must not flood the log (issue #8)."""

    # A failure this soon after recovering (a pooled connection that died with the old
    # server) belongs to the same outage: counted, not announced again.
    FLAP_S = 10.0

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.clock = clock
        self.failures = 0  # operations that failed (all outages)
        self.outages = 0  # outages begun
        self.since: float | None = None  # start of the current outage
        self._failed_now = 0
        self._recovered_at: float | None = None
        self._quiet = False  # the current outage resumed one already announced as over

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        self._failed_now += 1
        if self.since is not None:
            return
        now = self.clock()
        self.since = now
        recent = self._recovered_at is not None and now - self._recovered_at < self.FLAP_S
        self._quiet = recent
        if not recent:
            self.outages += 1
            log.warning("%s unreachable (%s); carrying on without it", self.name, exc)

    def ok(self) -> None:
        if self.since is None:
            return
        if not self._quiet:
            log.warning(
                "%s reachable again after %.1f s (%d operations failed meanwhile)",
                self.name,
                self.clock() - self.since,
                self._failed_now,
            )
        self._recovered_at = self.clock()
        self.since = None
        self._failed_now = 0


class RedisBus:
    """Redis pub/sub under one key prefix, so several app instances share the events.

    Fan-out only: while Redis is away, published events are dropped (counted in
    :attr:`outage`), never raised to the publisher, and subscriptions come back by
    themselves.
    """

    def __init__(self, url: str, prefix: str = "callcenter:bus:") -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import ExponentialBackoff
        from redis.exceptions import ConnectionError as RedisConnectionError

        # One quick retry on a fresh connection: after a Redis restart every pooled
        # connection fails once, which is not a new outage.
        self._redis = aioredis.from_url(
            url,
            decode_responses=True,
            retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 1),
            retry_on_error=[RedisConnectionError, TimeoutError],
        )
        self._prefix = prefix
        self.outage = Outage("Redis")

    async def publish(self, topic: str, event: Event) -> None:
        from redis.exceptions import RedisError

        try:
            await self._redis.publish(self._prefix + topic, json.dumps(event, default=str))
        except (RedisError, OSError) as exc:
            self.outage.failed(exc)
        else:
            self.outage.ok()

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
                self.outage.ok()
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
                self.outage.failed(exc)  # logged once per outage, retried with backoff
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
