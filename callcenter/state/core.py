"""What the live state's event handlers share: the tables and the helpers that find or
make a channel, a call and a queue (:class:`LiveStateCore`). The handlers are split by
concept (:mod:`callcenter.state.channel_events`, :mod:`callcenter.state.queue_events`) and
put together in :class:`callcenter.state.live.LiveState`, whose docstring holds the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from callcenter.pbx.ami.message import Message
from callcenter.phone.numbers import normalize_number
from callcenter.state.agents import AgentBoard
from callcenter.state.calls import Call
from callcenter.state.channels import (
    Channel,
    ChannelTable,
    is_helper_channel,
)
from callcenter.state.effects import (
    TOPIC_CALLS,
    TOPIC_QUEUES,
    CallFinished,
    Effect,
    Publish,
)
from callcenter.state.queues import QueueState
from callcenter.state.records import Outcome

Headers = dict[str, str]
Handler = Callable[[Headers, Message], list[Effect]]


class LiveStateCore:
    """Tables and helpers of the live state (see :class:`callcenter.state.live.LiveState`)."""

    def __init__(self, region: str = "DE", queue_tenants: dict[str, str] | None = None) -> None:
        self.region = region
        # Which tenant owns a queue (from the tenant configuration; AMI does not know).
        # Shared pool queues are left out and show tenant None.
        self.queue_tenants: dict[str, str] = dict(queue_tenants or {})
        self.channels = ChannelTable()
        self.calls: dict[str, Call] = {}
        self.queues: dict[str, QueueState] = {}
        self.agents = AgentBoard()
        self.last_seen = 0.0  # newest PBX time seen (event Timestamp or mark_seen)
        self._lost_at: float | None = None
        self._resync = False
        self._resync_now = 0.0
        self._seen_channels: set[str] = set()
        self._seen_entries: set[tuple[str, str]] = set()
        self._left_entries: set[tuple[str, str]] = set()
        self._seen_members: set[tuple[str, str]] = set()
        self._seen_queues: set[str] = set()
        self._seen_parked: set[str] = set()  # linkedids ParkedCalls listed in a resync

    def _sync_positions(self, queue: QueueState) -> None:
        """Every waiting caller's call shows its place now: app_queue moves callers when a
        priority caller joins ahead of them or someone ahead leaves (issue #8)."""
        for waiting in queue.waiting.values():
            call = self.calls.get(waiting.linkedid)
            if call is not None and call.queue_channel == waiting.uniqueid:
                call.position = waiting.position

    def _time(self, h: Headers) -> float:
        stamp = h.get("Timestamp")
        if stamp:
            try:
                t = float(stamp)
            except ValueError:
                t = -1.0
            # Also rejects nan/inf ("nan" and "1e309" parse as floats).
            if 0.0 < t < 1e11:
                if t > self.last_seen:  # noqa: PLR1730  (hot path: cheaper than max())
                    self.last_seen = t
                return t
        return self._resync_now if self._resync else self.last_seen

    def _channel(self, h: Headers, t: float, out: list[Effect] | None) -> Channel | None:
        """The event's channel; created from the event if we missed its Newchannel."""
        uid = h.get("Uniqueid")
        if not uid:
            return None
        channel = self.channels.by_id.get(uid)
        if channel is None:
            if self.channels.is_gone(uid):
                return None
            channel = Channel.from_headers(h, t, partial=True)
            self.channels.add(channel)
            self._attach(channel, t, out)
        else:
            linkedid = h.get("Linkedid")
            if linkedid and linkedid != channel.linkedid:
                self._relink(channel, linkedid, t, out)
        if self._resync:
            self._seen_channels.add(uid)
        return channel

    def _attach(self, channel: Channel, t: float, out: list[Effect] | None) -> Call:
        call = self.calls.get(channel.linkedid)
        if call is None and is_helper_channel(channel.name):
            # A helper leg with a linkedid of its own: tracked as a channel, never a call
            # (a detached Call absorbs its events and is never shown or stored).
            return Call(linkedid=channel.linkedid, entered_at=channel.created_at, last_at=t)
        if call is None:
            call = Call(linkedid=channel.linkedid, entered_at=channel.created_at, last_at=t)
            self.calls[call.linkedid] = call
            call.caller_raw = channel.caller_num
            call.caller_name = channel.caller_name
            if out is not None:
                out.append(Publish(TOPIC_CALLS, self._call_event("call.started", call)))
        elif channel.uniqueid == call.linkedid:
            call.caller_raw = channel.caller_num
            call.caller_name = channel.caller_name
        call.entered_at = min(call.entered_at, channel.created_at)
        call.channels.add(channel.uniqueid)
        return call

    def _relink(self, channel: Channel, linkedid: str, t: float, out: list[Effect] | None) -> None:
        # Bridging propagates the oldest linkedid (attended transfer, pickup): the channel
        # moves to that call and a call emptied by the move is merged, not finished.
        old = self.calls.get(channel.linkedid)
        channel.linkedid = linkedid
        call = self._attach(channel, t, out)
        if old is not None:
            old.channels.discard(channel.uniqueid)
            if not old.channels:
                del self.calls[old.linkedid]
                call.extra.setdefault("merged", []).append(old.linkedid)

    def _call_of(self, channel: Channel, t: float) -> Call:
        call = self.calls.get(channel.linkedid)
        if call is None:  # cannot happen while channels and calls stay in step
            call = self._attach(channel, t, None)
        call.last_at = t
        return call

    def _queue(self, name: str) -> QueueState:
        queue = self.queues.get(name)
        if queue is None:
            queue = self.queues[name] = QueueState(name)
        if self._resync:
            self._seen_queues.add(name)
        return queue

    def _call_event(self, kind: str, call: Call, **more: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": kind,
            "linkedid": call.linkedid,
            "caller": normalize_number(call.caller_raw, self.region),
            "tenant": call.tenant,
            "queue": call.queue,
        }
        event.update(more)
        return event

    def _finish(
        self, call: Call, ended_at: float, out: list[Effect], outcome: Outcome | None = None
    ) -> None:
        self.calls.pop(call.linkedid, None)
        record = call.to_record(ended_at, self.region, outcome)
        queue = self.queues.get(call.queue) if call.queue else None
        if queue is not None and record.outcome in queue.counters and record.outcome != "answered":
            queue.counters[record.outcome] += 1
        out.append(
            Publish(
                TOPIC_CALLS,
                self._call_event(
                    "call.ended",
                    call,
                    outcome=record.outcome,
                    agent=record.agent,
                    wait=record.wait_seconds,
                    talk=record.talk_seconds,
                    ended_at=ended_at,
                ),
            )
        )
        out.append(CallFinished(record))

    @staticmethod
    def _close_hold(call: Call, channel: Channel, t: float) -> None:
        call.held.discard(channel.uniqueid)
        if channel.on_hold_since is not None:
            call.hold_seconds += max(0.0, t - channel.on_hold_since)
            channel.on_hold_since = None

    def _mark_answered(
        self,
        call: Call,
        t: float,
        *,
        agent: str | None,
        interface: str | None,
        agent_channel: str | None,
        out: list[Effect],
    ) -> None:
        """A receptionist is connected: by app_queue (AgentConnect) or by the console."""
        call.stint_update(answered=True)
        if call.answered_at is not None:
            # Answered again (re-queued after a transfer, retrieved from parking): the first
            # answer stays the call's answer; who has it now changes.
            call.agent, call.agent_interface = (
                agent or call.agent,
                interface or call.agent_interface,
            )
            call.agent_channel = agent_channel or call.agent_channel
            call.ringing = 0
            if call.left_queue_at is None:
                call.left_queue_at = t
            return
        call.answered_at = t
        call.ringing = 0
        call.agent = agent
        call.agent_interface = interface
        call.agent_channel = agent_channel
        if call.left_queue_at is None:
            call.left_queue_at = t
        if call.queue:
            self._queue(call.queue).counters["answered"] += 1
        wait = call.wait_seconds()
        out.append(
            Publish(
                TOPIC_CALLS, self._call_event("call.answered", call, agent=call.agent, wait=wait)
            )
        )
        out.append(
            Publish(
                TOPIC_QUEUES,
                {
                    "type": "queue.answered",
                    "queue": call.queue,
                    "linkedid": call.linkedid,
                    "agent": call.agent,
                    "wait": wait,
                },
            )
        )
