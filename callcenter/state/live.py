"""The live state: channels, calls, queues and agents, fed one AMI event at a time.

Rule of this module: ``apply(msg)`` is pure. It reads the event's own ``Timestamp`` header
(manager.conf ``timestampevents = yes``) instead of a clock, changes in-memory state and
returns effects (:mod:`callcenter.state.effects`) for the runner to execute. It is the hot
path (every AMI event passes through it), so dispatch is one dict lookup, unknown events cost
nothing more, and handlers touch only the fields their event changes. Dial*, LocalBridge,
NewConnectedLine and DeviceStateChange are deliberately not handled: the queue events carry
who was rung and who answered, and member events carry the device state.

After a reconnect the PBX does not replay what was missed, so the runner rebuilds:
``begin_resync(now)``, then ``apply`` every entry of ``CoreShowChannels`` and then of
``QueueStatus``, then ``end_resync(now)``. Whatever the PBX did not list is dropped; a call
left without channels is finished as ``lost`` at the time the PBX was last seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from callcenter.pbx.ami.message import Message
from callcenter.phone.numbers import is_anonymous, normalize_number
from callcenter.state.agents import AgentBoard, member_from
from callcenter.state.calls import Call
from callcenter.state.channels import (
    STATE_UP,
    Channel,
    ChannelTable,
    int_header,
    is_helper_channel,
    parse_duration,
)
from callcenter.state.effects import (
    TOPIC_AGENTS,
    TOPIC_CALLS,
    TOPIC_QUEUES,
    CallFinished,
    Effect,
    Publish,
)
from callcenter.state.queues import QueueState, WaitingCaller
from callcenter.state.records import Outcome

Headers = dict[str, str]
Handler = Callable[[Headers, Message], list[Effect]]

# Channel variables the live state reads (VarSet, or ChanVariable on list entries).
WATCHED_VARIABLES = frozenset(
    {
        "CC_TENANT",
        "CC_DID",
        "CC_LANGUAGE",
        "CC_QUEUE",
        "CC_CONTACT",
        "CC_OUTCOME",
        "QUEUESTATUS",
        # Set on the receptionist's leg when a call picked up or unparked by the console
        # (dialplan cc-pickup) is answered: app_queue sends no AgentConnect then.
        "CC_ANSWERED_BY",
        # The legs of a callback (callbacks): its placeholder in the queue and
        # the customer leg. Statistics count the caller who asked once, not these legs.
        "CC_CALLBACK_LEG",
    }
    | {"CC_IVR_PATH"}  # the menu choices the caller made (ivr.engine), for the console
)


class LiveState:
    """Channels, calls, queues and agents of one PBX, rebuilt from AMI events."""

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
        self._dispatch: dict[str, Handler] = {
            "Newchannel": self._on_newchannel,
            "Newstate": self._on_newstate,
            "NewCallerid": self._on_newcallerid,
            "Newexten": self._on_newexten,
            "VarSet": self._on_varset,
            "Rename": self._on_rename,
            "BridgeEnter": self._on_bridge_enter,
            "BridgeLeave": self._on_bridge_leave,
            "Hold": self._on_hold,
            "Unhold": self._on_unhold,
            "Hangup": self._on_hangup,
            "CoreShowChannel": self._on_coreshowchannel,
            "QueueCallerJoin": self._on_caller_join,
            "QueueCallerLeave": self._on_caller_leave,
            "QueueCallerAbandon": self._on_caller_abandon,
            "AgentCalled": self._on_agent_called,
            "AgentRingNoAnswer": self._on_agent_not_answered,
            "AgentDump": self._on_agent_not_answered,
            "AgentConnect": self._on_agent_connect,
            "AgentComplete": self._on_agent_complete,
            "QueueMemberStatus": self._on_member,
            "QueueMemberAdded": self._on_member,
            "QueueMemberPause": self._on_member,
            "QueueMemberPenalty": self._on_member,
            "QueueMemberRinginuse": self._on_member,
            "QueueMember": self._on_member,
            "QueueMemberRemoved": self._on_member_removed,
            "QueueParams": self._on_queue_params,
            "QueueEntry": self._on_queue_entry,
        }

    # ------------------------------------------------------------------ public API

    def apply(self, msg: Message) -> list[Effect]:
        """Apply one AMI event; return the effects it causes (often none)."""
        headers = msg.headers
        if not headers:
            return []
        handler = self._dispatch.get(headers[0][1])
        if handler is None:
            return []
        return handler(dict(headers), msg)

    def mark_seen(self, now: float) -> None:
        """The PBX was alive at ``now`` (e.g. a ping answered): bounds ``lost`` end times."""
        self.last_seen = max(self.last_seen, now)

    def mark_disconnected(self, now: float) -> None:
        """The connection dropped at ``now``; calls that vanish meanwhile end then."""
        if self._lost_at is None:
            self._lost_at = max(self.last_seen, now) if self.last_seen else now

    def begin_resync(self, now: float) -> None:
        """Start a rebuild: feed CoreShowChannels then QueueStatus entries to ``apply``."""
        if self._lost_at is None:
            self._lost_at = self.last_seen or now
        self._resync = True
        self._resync_now = now
        self._seen_channels = set()
        self._seen_entries = set()
        self._left_entries = set()
        self._seen_members = set()
        self._seen_queues = set()

    def abort_resync(self) -> None:
        """The list actions failed: keep the state as it was; a later resync retries."""
        self._resync = False

    def end_resync(self, now: float) -> list[Effect]:
        """Drop what the PBX did not list; finish calls left without channels as ``lost``."""
        out: list[Effect] = []
        if not self._resync:
            return out
        self._resync = False
        lost_at = self._lost_at if self._lost_at is not None else now
        self._lost_at = None
        for uid in [u for u in self.channels.by_id if u not in self._seen_channels]:
            channel = self.channels.remove(uid)
            if channel is None:
                continue
            call = self.calls.get(channel.linkedid)
            if call is None:
                continue
            self._close_hold(call, channel, lost_at)
            call.channels.discard(uid)
            if not call.channels:
                self._finish(call, max(lost_at, call.last_at), out, outcome="lost")
        for call in [c for c in self.calls.values() if not c.channels]:
            self._finish(call, max(lost_at, call.last_at), out, outcome="lost")
        for name in [n for n in self.queues if n not in self._seen_queues]:
            del self.queues[name]
        for queue in self.queues.values():
            for uid in [u for u in queue.waiting if (queue.name, u) not in self._seen_entries]:
                queue.leave(uid)
            self._sync_positions(queue)
        for key in [k for k in self.agents.members if k not in self._seen_members]:
            self.agents.remove(*key)
        self.mark_seen(now)
        for topic in (TOPIC_CALLS, TOPIC_QUEUES, TOPIC_AGENTS):
            out.append(Publish(topic, {"type": "resynced", "at": now}))
        return out

    def apply_match(self, event: dict[str, Any]) -> list[Effect]:
        """The CRM's caller match (``CALLER_MATCHED`` on the bus) onto the call's view and
        row: contact, status, label, VIP. A call not (or no longer) known is ignored."""
        linkedid = event.get("linkedid")
        match = event.get("match")
        call = self.calls.get(linkedid) if isinstance(linkedid, str) else None
        if call is None or not isinstance(match, dict):
            return []
        contact = match.get("contact_id")
        call.extra["crm_status"] = match.get("status")
        call.extra["contact_name"] = match.get("label")
        call.extra["contact_vip"] = bool(match.get("vip"))
        new_contact = str(contact) if contact is not None else None
        if new_contact is None or call.extra.get("contact_id") == new_contact:
            return []
        call.extra["contact_id"] = new_contact
        return [
            Publish(
                TOPIC_CALLS,
                self._call_event(
                    "call.updated",
                    call,
                    language=call.language,
                    contact=new_contact,
                    diverted_to=call.cc_outcome,
                ),
            )
        ]

    def snapshot(self, now: float) -> dict[str, Any]:
        """JSON-able picture for dashboards; waits are computed at ``now``.

        ``calls`` by linkedid, ``queues`` by name (``callers`` in position order, each with
        its ``wait``; ``tenant`` from :attr:`queue_tenants`), ``agents`` by interface.
        """
        tenants = self.queue_tenants
        return {
            "at": now,
            "calls": {lid: c.view(now, self.region) for lid, c in self.calls.items()},
            "queues": {n: self.queues[n].view(now, tenants.get(n)) for n in sorted(self.queues)},
            "agents": self.agents.views(now),
            "channels": len(self.channels),
        }

    # ------------------------------------------------------------------ helpers

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

    def _sync_positions(self, queue: QueueState) -> None:
        """Every waiting caller's call shows its place now: app_queue moves callers when a
        priority caller joins ahead of them or someone ahead leaves (issue #8)."""
        for waiting in queue.waiting.values():
            call = self.calls.get(waiting.linkedid)
            if call is not None and call.queue_channel == waiting.uniqueid:
                call.position = waiting.position

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
        if channel.on_hold_since is not None:
            call.hold_seconds += max(0.0, t - channel.on_hold_since)
            channel.on_hold_since = None

    # ------------------------------------------------------------------ channel events

    def _on_newchannel(self, h: Headers, msg: Message) -> list[Effect]:
        out: list[Effect] = []
        uid = h.get("Uniqueid")
        if not uid or uid in self.channels.by_id or self.channels.is_gone(uid):
            if uid and self._resync and uid in self.channels.by_id:
                self._seen_channels.add(uid)
            return out
        t = self._time(h)
        channel = Channel.from_headers(h, t)
        self.channels.add(channel)
        self._attach(channel, t, out)
        if self._resync:
            self._seen_channels.add(uid)
        return out

    def _on_newstate(self, h: Headers, msg: Message) -> list[Effect]:
        t = self._time(h)
        channel = self._channel(h, t, None)
        if channel is not None:
            state = h.get("ChannelState")
            if state and state.isdigit():
                channel.state = int(state)
                if channel.state == STATE_UP and channel.up_at is None:
                    channel.up_at = t
        return []

    def _on_newcallerid(self, h: Headers, msg: Message) -> list[Effect]:
        t = self._time(h)
        channel = self._channel(h, t, None)
        if channel is not None:
            channel.caller_num = h.get("CallerIDNum", channel.caller_num)
            channel.caller_name = h.get("CallerIDName", channel.caller_name)
            if channel.uniqueid == channel.linkedid:
                call = self._call_of(channel, t)
                call.caller_raw = channel.caller_num
                call.caller_name = channel.caller_name
        return []

    def _on_newexten(self, h: Headers, msg: Message) -> list[Effect]:
        t = self._time(h)
        channel = self._channel(h, t, None)
        if channel is None:
            return []
        channel.context = h.get("Context", channel.context)
        channel.exten = h.get("Exten", channel.exten)
        channel.language = h.get("Language", channel.language)
        if h.get("Application") == "Queue":
            # Remember the queue even if Queue() refuses the caller (JOINEMPTY, FULL):
            # then there is no QueueCallerJoin, only QUEUESTATUS.
            call = self._call_of(channel, t)
            if call.queue is None:
                call.queue = (h.get("AppData") or "").split(",", 1)[0] or None
        return []

    def _on_varset(self, h: Headers, msg: Message) -> list[Effect]:
        name = h.get("Variable", "")
        if name.startswith("_"):
            name = name.lstrip("_")
        if name not in WATCHED_VARIABLES:
            return []
        t = self._time(h)
        out: list[Effect] = []
        channel = self._channel(h, t, out)
        if channel is not None:
            call = self._call_of(channel, t)
            if name == "CC_ANSWERED_BY":
                agent = h.get("Value", "").strip() or None
                self._mark_answered(
                    call, t, agent=agent, interface=agent, agent_channel=channel.uniqueid, out=out
                )
            else:
                self._set_variable(call, name, h.get("Value", ""), out, channel.uniqueid)
        return out

    def _set_variable(
        self, call: Call, name: str, value: str, out: list[Effect], channel: str | None = None
    ) -> None:
        """Apply a watched variable; ``channel`` (the uniqueid it was set on) goes into the
        ``call.updated`` event so that the CRM screen pop answers on that very channel."""
        value = value.strip()
        field = _VARIABLE_FIELDS.get(name)
        if field is not None:
            setattr(call, field, value or None)
            if name == "CC_TENANT" and call.queue_channel and call.queue in self.queues:
                waiting = self.queues[call.queue].waiting.get(call.queue_channel)
                if waiting is not None:
                    waiting.tenant = call.tenant
            if name == "QUEUESTATUS" and value:
                call.stint_update(status=value)
        elif name == "CC_OUTCOME":
            call.cc_outcome = value.lower() or None
        elif name == "CC_QUEUE":
            call.queue = call.queue if call.queued_at is not None else (value or call.queue)
        elif name == "CC_CONTACT":
            call.extra["contact_id"] = value or None
        elif name == "CC_IVR_PATH":
            call.extra["ivr_path"] = value or None
        elif name == "CC_CALLBACK_LEG":
            call.extra["callback_leg"] = value or None
        if name in ("CC_TENANT", "CC_CONTACT", "CC_LANGUAGE", "CC_OUTCOME"):
            out.append(
                Publish(
                    TOPIC_CALLS,
                    self._call_event(
                        "call.updated",
                        call,
                        channel=channel,
                        language=call.language,
                        contact=call.extra.get("contact_id"),
                        diverted_to=call.cc_outcome,
                    ),
                )
            )

    def _on_rename(self, h: Headers, msg: Message) -> list[Effect]:
        channel = self._channel(h, self._time(h), None)
        if channel is not None:
            channel.name = h.get("Newname", channel.name)
        return []

    def _on_bridge_enter(self, h: Headers, msg: Message) -> list[Effect]:
        channel = self._channel(h, self._time(h), None)
        if channel is not None:
            channel.bridge = h.get("BridgeUniqueid")
        return []

    def _on_bridge_leave(self, h: Headers, msg: Message) -> list[Effect]:
        channel = self._channel(h, self._time(h), None)
        if channel is not None:
            channel.bridge = None
        return []

    def _on_hold(self, h: Headers, msg: Message) -> list[Effect]:
        t = self._time(h)
        channel = self._channel(h, t, None)
        if channel is None or channel.on_hold_since is not None:
            return []
        channel.on_hold_since = t
        call = self._call_of(channel, t)
        return [Publish(TOPIC_CALLS, self._call_event("call.hold", call, held=True))]

    def _on_unhold(self, h: Headers, msg: Message) -> list[Effect]:
        t = self._time(h)
        channel = self._channel(h, t, None)
        if channel is None or channel.on_hold_since is None:
            return []
        call = self._call_of(channel, t)
        self._close_hold(call, channel, t)
        return [Publish(TOPIC_CALLS, self._call_event("call.hold", call, held=False))]

    def _on_hangup(self, h: Headers, msg: Message) -> list[Effect]:
        out: list[Effect] = []
        uid = h.get("Uniqueid")
        if not uid:
            return out
        channel = self.channels.remove(uid)
        if channel is None:
            return out  # unknown or already hung up: idempotent
        t = self._time(h)
        call = self.calls.get(channel.linkedid)
        if call is None:
            return out
        call.last_at = max(call.last_at, t)
        self._close_hold(call, channel, t)
        cause = h.get("Cause-txt") or h.get("Cause")
        if cause and (uid in (call.linkedid, call.queue_channel) or call.hangup_cause is None):
            call.hangup_cause = cause
        if uid == call.agent_channel and call.talk_end_at is None:
            call.talk_end_at = t
        if uid == call.queue_channel and call.queued_at is not None:
            for queue in self.queues.values():
                if queue.leave(uid) is not None:
                    self._sync_positions(queue)
            if call.left_queue_at is None:
                # Hung up while still waiting (the Abandon event was missed): an abandon.
                call.left_queue_at = t
                call.abandoned = call.answered_at is None
        call.channels.discard(uid)
        if not call.channels:
            self._finish(call, t, out)
        return out

    def _on_coreshowchannel(self, h: Headers, msg: Message) -> list[Effect]:
        out: list[Effect] = []
        uid = h.get("Uniqueid")
        if not uid or self.channels.is_gone(uid):
            return out
        now = self._resync_now if self._resync else self.last_seen
        created = now - parse_duration(h.get("Duration"))
        channel = self._channel(h, created, out)
        if channel is None:
            return out
        if channel.partial:
            channel.created_at = created
            channel.partial = False
        call = self._call_of(channel, now)
        call.entered_at = min(call.entered_at, channel.created_at)
        state = h.get("ChannelState", "")
        if state.isdigit():
            channel.state = int(state)
        channel.name = h.get("Channel", channel.name)
        channel.bridge = h.get("BridgeId") or None
        if uid == call.linkedid:
            call.caller_raw = h.get("CallerIDNum", call.caller_raw)
            call.caller_name = h.get("CallerIDName", call.caller_name)
        if channel.bridge and h.get("Application") == "Queue" and call.answered_at is None:
            # Rebuilt while an agent talks to this caller (we started after the answer):
            # the outcome is known, the answer time is not, so wait/talk stay unknown.
            call.answered_at = now
            call.queue = call.queue or (h.get("ApplicationData") or "").split(",", 1)[0] or None
            call.extra["answer_time_unknown"] = True
        for name, value in msg.variables().items():
            if value and name.lstrip("_") in WATCHED_VARIABLES:
                self._set_variable(call, name.lstrip("_"), value, [])
        return out

    # ------------------------------------------------------------------ queue callers

    def _on_caller_join(self, h: Headers, msg: Message) -> list[Effect]:
        out: list[Effect] = []
        t = self._time(h)
        channel = self._channel(h, t, out)
        name = h.get("Queue")
        if channel is None or not name:
            return out
        call = self._call_of(channel, t)
        queue = self._queue(name)
        caller = WaitingCaller(
            uniqueid=channel.uniqueid,
            linkedid=call.linkedid,
            channel=channel.name,
            position=int_header(h.get("Position")),
            joined_at=t,
            caller_num=h.get("CallerIDNum", ""),
            caller_name=h.get("CallerIDName", ""),
            tenant=call.tenant,
        )
        queue.join(caller)
        self._sync_positions(queue)
        if self._resync:
            self._seen_entries.add((name, channel.uniqueid))
        call.queue = name
        call.queue_channel = channel.uniqueid
        call.stint_joined(name, channel.uniqueid, t)
        call.position = caller.position
        call.left_queue_at = None
        if call.queued_at is None:
            call.queued_at = t
        if is_anonymous(call.caller_raw) and caller.caller_num:
            call.caller_raw = caller.caller_num
            call.caller_name = caller.caller_name or call.caller_name
        if call.language is None and channel.language:
            call.language = channel.language
        count = int_header(h.get("Count"))
        out.append(
            Publish(
                TOPIC_QUEUES,
                {
                    "type": "queue.caller_joined",
                    "queue": name,
                    "linkedid": call.linkedid,
                    "position": caller.position,
                    "count": count,
                    "caller": normalize_number(call.caller_raw, self.region),
                    "tenant": call.tenant,
                },
            )
        )
        out.append(
            Publish(
                TOPIC_CALLS,
                self._call_event(
                    "call.queued",
                    call,
                    position=caller.position,
                    language=call.language,
                    did=call.did,
                    contact=call.extra.get("contact_id"),
                ),
            )
        )
        return out

    def _leave(
        self, h: Headers, reason: str
    ) -> tuple[list[Effect], Call | None, QueueState | None]:
        out: list[Effect] = []
        t = self._time(h)
        name = h.get("Queue")
        uid = h.get("Uniqueid")
        if not name or not uid:
            return out, None, None
        queue = self._queue(name)
        left = queue.leave(uid)
        self._sync_positions(queue)
        if self._resync:
            self._left_entries.add((name, uid))
        channel = self.channels.get(uid)
        call = self._call_of(channel, t) if channel is not None else None
        if call is not None and call.queue_channel == uid and call.left_queue_at is None:
            call.left_queue_at = t
        if call is not None:
            call.stint_left(name, uid, t, abandoned=reason == "unanswered")
        if left is not None or reason == "unanswered":
            out.append(
                Publish(
                    TOPIC_QUEUES,
                    {
                        "type": "queue.caller_left",
                        "queue": name,
                        "linkedid": call.linkedid if call else (left.linkedid if left else None),
                        "reason": reason,
                        "count": len(queue.waiting),
                    },
                )
            )
        return out, call, queue

    def _on_caller_leave(self, h: Headers, msg: Message) -> list[Effect]:
        return self._leave(h, "left")[0]

    def _on_caller_abandon(self, h: Headers, msg: Message) -> list[Effect]:
        # Sent when the caller hangs up *and* on queue timeout (QUEUESTATUS follows), so
        # the reason stays "unanswered" here; call.ended carries the final outcome.
        out, call, queue = self._leave(h, "unanswered")
        if queue is not None:
            queue.bump_pbx("abandoned")
        if call is not None and call.answered_at is None:
            call.abandoned = True
            call.extra["pbx_hold_time"] = int_header(h.get("HoldTime"))
            call.extra["abandon_position"] = int_header(h.get("Position"))
        return out

    def _on_agent_called(self, h: Headers, msg: Message) -> list[Effect]:
        t = self._time(h)
        channel = self._channel(h, t, None)
        if channel is not None:
            self._call_of(channel, t).ringing += 1
        return []

    def _on_agent_not_answered(self, h: Headers, msg: Message) -> list[Effect]:
        t = self._time(h)
        channel = self._channel(h, t, None)
        if channel is not None:
            call = self._call_of(channel, t)
            call.ringing = max(0, call.ringing - 1)
        return []

    def _on_agent_connect(self, h: Headers, msg: Message) -> list[Effect]:
        t = self._time(h)
        out: list[Effect] = []
        channel = self._channel(h, t, out)
        if channel is None:
            return out
        call = self._call_of(channel, t)
        if call.answered_at is not None and call.left_queue_at is not None:
            return out  # replayed event (a re-queued call waits again: left_queue_at None)
        call.queue = h.get("Queue") or call.queue
        call.extra["pbx_hold_time"] = int_header(h.get("HoldTime"))
        if call.queue:
            self._queue(call.queue).follow_average("holdtime", int_header(h.get("HoldTime")))
        call.extra["pbx_ring_time"] = int_header(h.get("RingTime"))
        self._mark_answered(
            call,
            t,
            agent=h.get("MemberName") or h.get("Interface"),
            interface=h.get("Interface"),
            agent_channel=h.get("DestUniqueid"),
            out=out,
        )
        return out

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

    def _on_agent_complete(self, h: Headers, msg: Message) -> list[Effect]:
        t = self._time(h)
        channel = self._channel(h, t, None)
        # app_queue publishes AgentComplete from a stasis callback, so it can arrive after
        # the caller channel's Hangup: then find the call by its linkedid.
        call: Call | None = (
            self._call_of(channel, t)
            if channel is not None
            else self.calls.get(h.get("Linkedid", ""))
        )
        if call is not None and "pbx_talk_time" not in call.extra:
            # The agent leg's Hangup may have come first and already closed the talk time.
            if call.talk_end_at is None:
                call.talk_end_at = t
            call.extra["pbx_talk_time"] = int_header(h.get("TalkTime"))
            call.extra["complete_reason"] = h.get("Reason")
            if call.queue:
                queue = self._queue(call.queue)
                queue.bump_pbx("completed")
                queue.follow_average("talktime", int_header(h.get("TalkTime")))
        return []

    # ------------------------------------------------------------------ queues and members

    def _on_member(self, h: Headers, msg: Message) -> list[Effect]:
        t = self._time(h)
        member = member_from(h, t)
        if not member.interface or not member.queue:
            return []
        self._queue(member.queue)
        if self._resync:
            self._seen_members.add(member.key())
        if not self.agents.upsert(member):
            return []
        view = self.agents.agent_view(member.interface, t)
        view["type"] = "agent.status"
        return [Publish(TOPIC_AGENTS, view)]

    def _on_member_removed(self, h: Headers, msg: Message) -> list[Effect]:
        t = self._time(h)
        interface = h.get("Interface") or h.get("Location") or ""
        if self.agents.remove(interface, h.get("Queue", "")) is None:
            return []
        view = self.agents.agent_view(interface, t)
        view["type"] = "agent.status"
        return [Publish(TOPIC_AGENTS, view)]

    def _on_queue_params(self, h: Headers, msg: Message) -> list[Effect]:
        name = h.get("Queue")
        if name:
            self._queue(name).set_params(h)
        return []

    def _on_queue_entry(self, h: Headers, msg: Message) -> list[Effect]:
        name = h.get("Queue")
        uid = h.get("Uniqueid")
        if not name or not uid or self.channels.is_gone(uid) or (name, uid) in self._left_entries:
            return []
        now = self._resync_now if self._resync else self.last_seen
        queue = self._queue(name)
        if self._resync:
            self._seen_entries.add((name, uid))
        position = int_header(h.get("Position"))
        existing = queue.waiting.get(uid)
        if existing is not None:
            existing.position = position
            return []
        joined = now - int_header(h.get("Wait"))
        channel = self.channels.get(uid)
        linkedid = channel.linkedid if channel is not None else uid
        queue.waiting[uid] = WaitingCaller(
            uniqueid=uid,
            linkedid=linkedid,
            channel=h.get("Channel", ""),
            position=position,
            joined_at=joined,
            caller_num=h.get("CallerIDNum", ""),
            caller_name=h.get("CallerIDName", ""),
        )
        call = self.calls.get(linkedid)
        if call is not None:
            queue.waiting[uid].tenant = call.tenant
            call.queue = name
            call.queue_channel = uid
            call.position = position
            call.left_queue_at = None
            if call.queued_at is None:
                call.queued_at = joined
                call.extra["rebuilt"] = True
        return []


_VARIABLE_FIELDS = {
    "CC_TENANT": "tenant",
    "CC_DID": "did",
    "CC_LANGUAGE": "language",
    "QUEUESTATUS": "queue_status",
}
