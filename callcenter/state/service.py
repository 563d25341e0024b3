"""Runner of the live state: AMI events in, effects out (bus, call rows), resync on connect.

The AMI reader calls our listener synchronously for every event, so nothing here may block
it: ``LiveState.apply`` is pure and quick, publishing and database writes are handed to two
background tasks through in-memory queues. A finished call is retried until the repository
takes it (an outage of PostgreSQL delays rows, it does not lose them); the bus is fan-out
only, so a failed publish is logged and dropped.

Asterisk keeps no events for a disconnected client: after every login the state is rebuilt
from ``CoreShowChannels``, ``QueueStatus`` and ``ParkedCalls`` (see :mod:`callcenter.state.live`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from callcenter.aio import wait_set
from callcenter.bus import Bus
from callcenter.pbx.ami.message import Message
from callcenter.state.effects import TOPIC_CALLS, TOPIC_QUEUES, CallFinished, Effect, Publish
from callcenter.state.live import LiveState
from callcenter.state.records import CallRecord, EventRow
from callcenter.topics import CALLER_MATCHED

log = logging.getLogger(__name__)

Clock = Callable[[], float]
LOGGED_TOPICS = frozenset({TOPIC_CALLS, TOPIC_QUEUES})
EVENT_BATCH = 500


class AmiLike(Protocol):
    """What the runner needs from :class:`callcenter.pbx.ami.client.AmiClient`."""

    @property
    def connected(self) -> bool: ...

    def add_event_listener(self, cb: Callable[[Message], None]) -> None: ...

    def add_connect_listener(self, cb: Callable[[], Awaitable[None]]) -> None: ...

    def add_disconnect_listener(self, cb: Callable[[str], None]) -> None: ...

    async def send_list_action(
        self, name: str, headers: Any = None, *, timeout: float | None = None
    ) -> list[Message]: ...


class CallSink(Protocol):
    """Where finished calls and the call event log go (:class:`CallRepository`)."""

    async def append_events(self, events: Sequence[EventRow]) -> None: ...

    async def record_finished(self, record: CallRecord) -> None: ...


class LiveStateService:
    """Feeds AMI events into a :class:`LiveState` and executes the effects it returns."""

    def __init__(
        self,
        ami_client: AmiLike,
        state: LiveState,
        bus: Bus,
        call_repository: CallSink,
        clock: Clock = time.time,
        *,
        retry_min: float = 0.2,
        retry_max: float = 10.0,
        max_pending_publish: int = 100_000,
    ) -> None:
        self.ami = ami_client
        self.state = state
        self.bus = bus
        self.calls = call_repository
        self.clock = clock
        self.retry_min, self.retry_max = retry_min, retry_max
        self._publish: collections.deque[Publish] = collections.deque(maxlen=max_pending_publish)
        self._publish_ready = asyncio.Event()
        self._records: asyncio.Queue[CallRecord] = asyncio.Queue()
        # Append-only call event log (call_events): written in batches, retried like rows.
        self._event_log: collections.deque[EventRow] = collections.deque()
        self._event_log_ready = asyncio.Event()
        self._event_log_idle = asyncio.Event()
        self._event_log_idle.set()
        self.events_logged = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self.resyncs = 0
        self.last_resync_at: float | None = None
        self.resync_error: str | None = None
        self.records_written = 0
        self.write_failures = 0
        self.rejected: collections.deque[tuple[CallRecord, str]] = collections.deque(maxlen=1000)
        # Extra parts of the snapshot that features keep themselves (e.g. "lines": trunk
        # and phone status), by key; each is called at snapshot time.
        self.sections: dict[str, Callable[[], Any]] = {}
        # Set after the next applied AMI event, for :meth:`until`; None while nobody waits.
        self._applied: asyncio.Event | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Register with the AMI client and start the effect workers.

        Call before ``ami_client.start()``; if the client is already logged in, a resync
        is run at once.
        """
        if self._started:
            return
        self._started = True
        self.ami.add_event_listener(self.on_event)
        self.ami.add_connect_listener(self.resync)
        self.ami.add_disconnect_listener(self.on_disconnect)
        self._tasks = [
            asyncio.create_task(self._publisher(), name="live-state-publisher"),
            asyncio.create_task(self._writer(), name="live-state-writer"),
            asyncio.create_task(self._event_logger(), name="live-state-event-log"),
            asyncio.create_task(self._caller_matches(), name="live-state-caller-matches"),
        ]
        if self.ami.connected:
            await self.resync()

    async def close(self, drain_timeout: float = 5.0) -> None:
        """Write what is pending (up to ``drain_timeout`` s), then stop the workers."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drain(), drain_timeout)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if not self._records.empty() or self._event_log:
            log.error(
                "live state: %d finished calls and %d call events not written at shutdown",
                self._records.qsize(),
                len(self._event_log),
            )

    async def _drain(self) -> None:
        await self._records.join()
        await self._event_log_idle.wait()

    # ------------------------------------------------------------------ bus side

    async def _caller_matches(self) -> None:
        """The CRM's caller match (one lookup per call, published on the bus) into the
        calls' views: no CRM variables round-tripped through the PBX."""
        async for _topic, event in self.bus.subscribe(TOPIC_CALLS):
            if event.get("type") == CALLER_MATCHED:
                effects = self.state.apply_match(event)
                if effects:
                    self._execute(effects)

    # ------------------------------------------------------------------ AMI side

    def on_event(self, msg: Message) -> None:
        """AMI event listener: apply and queue the effects (never blocks the reader)."""
        effects = self.state.apply(msg)
        if effects:
            self._execute(effects)
        if self._applied is not None:
            self._applied.set()
            self._applied = None

    async def until(self, check: Callable[[LiveState], bool], timeout: float) -> bool:
        """Wait until ``check(state)`` holds, tried again after every applied AMI event;
        False if it still does not after ``timeout`` s. For code that sent the PBX a step
        and must see its events before the next one (call control), without polling."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check(self.state):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            if self._applied is None:
                self._applied = asyncio.Event()
            await wait_set(self._applied, remaining)
        return True

    def on_disconnect(self, reason: str) -> None:
        self.state.mark_disconnected(self.clock())
        log.warning("live state: AMI disconnected (%s); rebuilding on reconnect", reason)

    async def resync(self) -> None:
        """Rebuild from the PBX's lists; runs after every (re)login.

        Retried while the connection stays up: Asterisk accepts AMI logins before it has
        loaded every module (``QueueStatus`` is an unknown command until app_queue is in).
        """
        delay = self.retry_min
        while True:
            try:
                await self._resync_once()
                return
            except Exception as exc:
                self.resync_error = f"{type(exc).__name__}: {exc}"
                if not self.ami.connected:
                    raise
                log.warning(
                    "live state: resync failed (%s); retry in %.1f s", self.resync_error, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _resync_once(self) -> None:
        self.state.begin_resync(self.clock())
        try:
            channels = await self.ami.send_list_action("CoreShowChannels")
            queues = await self.ami.send_list_action("QueueStatus")
        except BaseException:
            self.state.abort_resync()
            raise
        # Apply in this order: QueueEntry finds its channel (and call) from the channel list.
        for msg in channels:
            self._execute(self.state.apply(msg))
        for msg in queues:
            self._execute(self.state.apply(msg))
        parked: list[Message] | None
        try:  # optional: without res_parking there is nothing parked to rebuild
            parked = await self.ami.send_list_action("ParkedCalls")
        except Exception as exc:  # any refusal (no res_parking, a drop): keep what we knew
            log.debug("live state: ParkedCalls not listed (%s)", exc)
            parked = None
        for msg in parked or ():
            self._execute(self.state.apply(msg))
        now = self.clock()
        self._execute(self.state.end_resync(now, parked_listed=parked is not None))
        self.resyncs += 1
        self.last_resync_at = now
        self.resync_error = None
        log.info(
            "live state: resynced %d channels, %d calls, %d queues",
            len(self.state.channels),
            len(self.state.calls),
            len(self.state.queues),
        )

    async def refresh_queues(self) -> None:
        """Read every queue's parameters and members again (``QueueStatus``), e.g. after
        queues were provisioned or changed: app_queue announces neither, so a queue added
        after the last resync would show no strategy, service level or PBX figures."""
        for msg in await self.ami.send_list_action("QueueStatus"):
            if msg.name in ("QueueParams", "QueueMember"):
                self._execute(self.state.apply(msg))

    def snapshot(self) -> dict[str, Any]:
        """The live picture now (JSON-able), for dashboards and the API."""
        snap = self.state.snapshot(self.clock())
        snap["connected"] = self.ami.connected
        snap["pending_records"] = self.pending_records
        for key, section in self.sections.items():
            snap[key] = section()
        return snap

    @property
    def pending_records(self) -> int:
        return self._records.qsize()

    @property
    def pending_events(self) -> int:
        """Call events waiting to be appended to the event log."""
        return len(self._event_log)

    async def wait_written(self, timeout: float = 10.0) -> None:
        """Wait until every finished call so far is stored (tests, shutdown)."""
        await asyncio.wait_for(self._records.join(), timeout)

    # ------------------------------------------------------------------ effects

    def _execute(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Publish):
                self._publish.append(effect)
                self._publish_ready.set()
                linkedid = effect.event.get("linkedid")
                if linkedid and effect.topic in LOGGED_TOPICS:
                    at = datetime.fromtimestamp(self.state.last_seen or self.clock(), UTC)
                    self._event_log.append((linkedid, at, effect.event["type"], effect.event))
                    self._event_log_idle.clear()
                    self._event_log_ready.set()
            elif isinstance(effect, CallFinished):
                self._records.put_nowait(effect.record)

    async def _publisher(self) -> None:
        while True:
            await self._publish_ready.wait()
            self._publish_ready.clear()
            while self._publish:
                item = self._publish.popleft()
                try:
                    await self.bus.publish(item.topic, item.event)
                except Exception:
                    log.exception("live state: publish on %r failed; event dropped", item.topic)

    async def _event_logger(self) -> None:
        """Batch the call event log into the database; a failed batch is retried whole."""
        delay = self.retry_min
        while True:
            await self._event_log_ready.wait()
            self._event_log_ready.clear()
            while self._event_log:
                batch = [self._event_log[i] for i in range(min(EVENT_BATCH, len(self._event_log)))]
                try:
                    await self.calls.append_events(batch)
                except Exception as exc:
                    log.warning(
                        "live state: event log write failed (%s); retry in %.1f s", exc, delay
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.retry_max)
                    continue
                delay = self.retry_min
                for _ in batch:
                    self._event_log.popleft()
                self.events_logged += len(batch)
            self._event_log_idle.set()

    async def _writer(self) -> None:
        while True:
            record = await self._records.get()
            try:
                await self._store(record)
            finally:
                self._records.task_done()

    async def _store(self, record: CallRecord) -> None:
        delay = self.retry_min
        while True:
            try:
                await self.calls.record_finished(record)
            except ValueError as exc:
                # The repository refuses the record itself (InvalidCallRecord): retrying
                # cannot help, so keep it for inspection and say exactly why.
                log.error("live state: call %s rejected: %s", record.linkedid, exc)
                self.rejected.append((record, str(exc)))
                return
            except Exception as exc:
                self.write_failures += 1
                log.warning(
                    "live state: storing call %s failed (%s); retry in %.1f s",
                    record.linkedid,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
            else:
                self.records_written += 1
                return
