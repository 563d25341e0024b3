"""LiveStateService with a scripted AMI stand-in: effects reach the bus and the repository,
failed writes are retried, resync runs on every connect. (Real AMI/PostgreSQL: see
tests/integration/test_live_state.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pytest

from callcenter.bus import InProcessBus
from callcenter.pbx.ami.message import Message
from callcenter.state.live import LiveState
from callcenter.state.records import CallRecord
from callcenter.state.service import LiveStateService
from tests.fixtures.state.builder import Pbx


class ScriptedAmi:
    """Stand-in for AmiClient: hands events to listeners, answers list actions from a dict."""

    def __init__(self) -> None:
        self.connected = False
        self.events: list[Callable[[Message], None]] = []
        self.connects: list[Callable[[], Awaitable[None]]] = []
        self.disconnects: list[Callable[[str], None]] = []
        self.lists: dict[str, list[Message]] = {
            "CoreShowChannels": [],
            "QueueStatus": [],
            "ParkedCalls": [],
        }
        self.fail_lists = 0  # how many list actions fail before they work again

    def add_event_listener(self, cb: Callable[[Message], None]) -> None:
        self.events.append(cb)

    def add_connect_listener(self, cb: Callable[[], Awaitable[None]]) -> None:
        self.connects.append(cb)

    def add_disconnect_listener(self, cb: Callable[[str], None]) -> None:
        self.disconnects.append(cb)

    async def send_list_action(
        self, name: str, headers: Any = None, *, timeout: float | None = None
    ) -> list[Message]:
        await asyncio.sleep(0)
        if self.fail_lists:
            self.fail_lists -= 1
            raise ConnectionError("unknown command")
        return list(self.lists[name])

    def emit(self, msgs: list[Message]) -> None:
        for msg in msgs:
            for cb in self.events:
                cb(msg)
        msgs.clear()

    async def connect(self) -> None:
        self.connected = True
        for cb in self.connects:
            await cb()

    def disconnect(self) -> None:
        self.connected = False
        for cb in self.disconnects:
            cb("connection closed by Asterisk")


class FlakyRepository:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.rows: dict[str, CallRecord] = {}
        self.attempts = 0
        self.event_failures = 0
        self.events: list[tuple[str, datetime, str, Mapping[str, Any]]] = []

    async def append_events(
        self, events: Sequence[tuple[str, datetime, str, Mapping[str, Any]]]
    ) -> None:
        if self.event_failures:
            self.event_failures -= 1
            raise ConnectionRefusedError("database is down")
        self.events.extend(events)

    async def record_finished(self, record: CallRecord) -> None:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("database is down")
        if record.outcome == "ivr" and record.tenant == "broken":
            raise ValueError(f"call {record.linkedid!r}: refused")
        self.rows[record.linkedid] = record


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


async def make(
    failures: int = 0,
) -> tuple[LiveStateService, ScriptedAmi, FlakyRepository, InProcessBus, Pbx, Clock]:
    pbx = Pbx()
    ami, repo, bus, clock = ScriptedAmi(), FlakyRepository(failures), InProcessBus(), Clock(pbx.t)
    service = LiveStateService(ami, LiveState(), bus, repo, clock, retry_min=0.01, retry_max=0.02)
    await service.start()
    return service, ami, repo, bus, pbx, clock


async def collect(bus: InProcessBus, n: int) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    async for item in bus.subscribe("calls", "queues"):
        out.append(item)
        if len(out) == n:
            break
    return out


async def test_call_events_are_published_and_the_row_written_despite_db_outage() -> None:
    service, ami, repo, bus, pbx, _ = await make(failures=3)
    received = asyncio.create_task(collect(bus, 4))
    await asyncio.sleep(0)
    one, two = pbx.inbound("+493012345600", "+4930111222")
    pbx.to_queue(two, "q")
    ami.emit(pbx.log)
    pbx.hangup(two)
    pbx.hangup(one)
    ami.emit(pbx.log)
    await service.wait_written(5)
    assert repo.attempts == 4 and service.write_failures == 3
    [row] = repo.rows.values()
    assert row.outcome == "abandoned"  # hung up while waiting
    types = [e["type"] for _, e in await asyncio.wait_for(received, 5)]
    assert types == ["call.started", "call.updated", "queue.caller_joined", "call.queued"]
    await service.close()


async def test_call_event_log_is_appended_in_order_despite_db_outage() -> None:
    service, ami, repo, _, pbx, _ = await make()
    repo.event_failures = 2
    one, two = pbx.inbound("+493012345600", "+4930111222")
    pbx.to_queue(two, "q")
    pbx.hangup(two)
    pbx.hangup(one)
    ami.emit(pbx.log)
    await service.close()  # drains the log
    linkedids = {linkedid for linkedid, _, _, _ in repo.events}
    types = [type_ for _, _, type_, _ in repo.events]
    assert len(linkedids) == 1
    assert types[0] == "call.started" and types[-1] == "call.ended"
    assert "queue.caller_joined" in types and "call.queued" in types
    times = [at for _, at, _, _ in repo.events]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)
    assert service.events_logged == len(repo.events)


async def test_connect_runs_resync_and_finishes_vanished_calls_as_lost() -> None:
    service, ami, repo, _, pbx, clock = await make()
    await ami.connect()
    assert service.resyncs == 1
    pbx.inbound("+493012345600", "+4930111222")
    ami.emit(pbx.log)
    assert len(service.snapshot()["calls"]) == 1
    clock.t = pbx.t + 1
    ami.disconnect()
    clock.t += 10
    await ami.connect()  # Asterisk came back empty
    await service.wait_written(5)
    [row] = repo.rows.values()
    assert row.outcome == "lost"
    assert row.ended_at.timestamp() == pytest.approx(pbx.t + 1)
    snap = service.snapshot()
    assert snap["calls"] == {} and snap["connected"] is True
    assert service.resyncs == 2
    await service.close()


async def test_failed_resync_is_retried_while_connected() -> None:
    service, ami, _, _, pbx, _ = await make()
    await ami.connect()
    pbx.inbound("+493012345600", "+4930111222")
    ami.emit(pbx.log)
    ami.fail_lists = 2  # e.g. app_queue not loaded yet right after a restart
    ami.lists["CoreShowChannels"] = []
    task = asyncio.create_task(ami.connect())
    await asyncio.sleep(0.005)
    assert service.resyncs == 1
    assert len(service.state.calls) == 1  # kept while the rebuild is not done
    await asyncio.wait_for(task, 5)
    assert service.resyncs == 2 and service.resync_error is None
    assert service.write_failures == 0
    assert service.state.calls == {}
    await service.close()


async def test_resync_error_is_reported_and_dropped_connection_ends_retries() -> None:
    service, ami, _, _, pbx, _ = await make()
    pbx.inbound("+493012345600", "+4930111222")
    ami.emit(pbx.log)
    ami.fail_lists = 1
    with pytest.raises(ConnectionError):
        await service.resync()
    assert service.resync_error == "ConnectionError: unknown command"
    assert len(service.state.calls) == 1
    await service.close()


async def test_record_refused_by_repository_is_kept_not_retried_forever() -> None:
    service, ami, repo, _, pbx, _ = await make()
    chan = pbx.new_channel("PJSIP/trunk-1")
    pbx.event("VarSet", chan, Variable="CC_TENANT", Value="broken")
    pbx.hangup(chan)
    ami.emit(pbx.log)
    await service.wait_written(5)
    assert repo.rows == {}
    [(record, reason)] = service.rejected
    assert record.linkedid == chan.uniqueid and "refused" in reason
    await service.close()


async def test_caller_match_on_the_bus_reaches_the_view_and_the_row() -> None:
    """The CRM's match (one lookup per call) arrives as a bus event, not as channel
    variables read back from the PBX."""
    service, ami, repo, bus, pbx, _ = await make()
    await asyncio.sleep(0)
    one, two = pbx.inbound("+493012345600", "+491715554001")
    pbx.to_queue(two, "q")
    ami.emit(pbx.log)
    linkedid = one.linkedid
    match = {"status": "contact", "contact_id": 7, "label": "Vera Wichtig", "vip": True}
    await bus.publish("calls", {"type": "crm.match", "linkedid": linkedid, "match": match})
    await bus.publish("calls", {"type": "crm.match", "linkedid": "gone", "match": match})
    for _ in range(100):
        view = service.snapshot()["calls"][linkedid]
        if view["crm_status"] is not None:
            break
        await asyncio.sleep(0.01)
    assert (view["contact"], view["crm_status"], view["contact_name"], view["contact_vip"]) == (
        "7",
        "contact",
        "Vera Wichtig",
        True,
    )
    pbx.hangup(two)
    pbx.hangup(one)
    ami.emit(pbx.log)
    await service.wait_written(5)
    assert repo.rows[linkedid].extra["contact_id"] == "7"  # the call row keeps the contact
    await service.close()
