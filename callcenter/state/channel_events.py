"""Channel events of the live state (Newchannel … Hangup, VarSet, CoreShowChannel): which
channels exist, which call each belongs to, what the dialplan set on them. Pure like
:mod:`callcenter.state.live`."""

from __future__ import annotations

from callcenter.pbx.ami.message import Message
from callcenter.state.calls import Call
from callcenter.state.channels import (
    STATE_UP,
    Channel,
    parse_duration,
)
from callcenter.state.core import Headers, LiveStateCore
from callcenter.state.effects import (
    TOPIC_CALLS,
    Effect,
    Publish,
)

# The dialplan context of a caller held by the console (extensions.conf, call control).
HOLD_CONTEXT = "cc-hold"

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
        # "<number> <DIALSTATUS>" when a transfer could not be placed (cc-blind-transfer,
        # cc-consult): the caller is back with the receptionist; the console says why.
        "CC_TRANSFER_FAILED",
        # The position name a console pickup rings (call control), so that ``agent`` is
        # the same person's name as after a queue answer (app_queue's MemberName).
        "CC_PICKUP_AGENT",
    }
    | {"CC_IVR_PATH"}  # the menu choices the caller made (ivr.engine), for the console
)


class ChannelEvents(LiveStateCore):
    """Handlers of the channel events."""

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
        out: list[Effect] = []
        context = h.get("Context", channel.context)
        if context != channel.context:
            if context == HOLD_CONTEXT:
                out = self._hold_started(channel, t)
            elif channel.context == HOLD_CONTEXT:
                out = self._hold_ended(channel, t)
        channel.context = context
        channel.exten = h.get("Exten", channel.exten)
        channel.language = h.get("Language", channel.language)
        if h.get("Application") == "Queue":
            # Remember the queue even if Queue() refuses the caller (JOINEMPTY, FULL):
            # then there is no QueueCallerJoin, only QUEUESTATUS.
            call = self._call_of(channel, t)
            if call.queue is None:
                call.queue = (h.get("AppData") or "").split(",", 1)[0] or None
        return out

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
                interface = h.get("Value", "").strip() or None
                self._mark_answered(
                    call,
                    t,
                    agent=self._agent_name(call, interface),
                    interface=interface,
                    agent_channel=channel.uniqueid,
                    out=out,
                )
            elif name == "CC_PICKUP_AGENT":
                call.pickup_agent = h.get("Value", "").strip() or None
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
        elif name == "CC_TRANSFER_FAILED":
            self._transfer_failed(call, value, out)
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

    def _agent_name(self, call: Call, interface: str | None) -> str | None:
        """Who a console pickup connected, named like app_queue names a queue answer:
        the position's name (the pickup's CC_PICKUP_AGENT, else the queue member's name),
        the interface only if neither is known."""
        if interface is None:
            return None
        if interface == call.agent_interface and call.agent:
            return call.agent  # the same receptionist again (transfer recall, retrieve)
        if call.pickup_agent:
            return call.pickup_agent
        member = next((m for (i, _), m in self.agents.members.items() if i == interface), None)
        return member.name if member is not None else interface

    def _hold_started(self, channel: Channel, t: float) -> list[Effect]:
        if channel.on_hold_since is not None:
            return []
        channel.on_hold_since = t
        call = self._call_of(channel, t)
        call.held.add(channel.uniqueid)
        return [Publish(TOPIC_CALLS, self._call_event("call.hold", call, held=True))]

    def _hold_ended(self, channel: Channel, t: float) -> list[Effect]:
        if channel.on_hold_since is None:
            return []
        call = self._call_of(channel, t)
        self._close_hold(call, channel, t)
        return [Publish(TOPIC_CALLS, self._call_event("call.hold", call, held=False))]

    def _on_parked(self, h: Headers, msg: Message) -> list[Effect]:
        """ParkedCall (also the ParkedCalls list entries): the caller is in res_parking."""
        call = self._parkee_call(h)
        if call is None:
            return []
        parked = {"space": h.get("ParkingSpace", ""), "lot": h.get("Parkinglot", "")}
        if self._resync:
            self._seen_parked.add(call.linkedid)
        if call.parked == parked:
            return []
        call.parked = parked
        return [Publish(TOPIC_CALLS, self._call_event("call.parked", call, **parked))]

    def _on_unparked(self, h: Headers, msg: Message) -> list[Effect]:
        """UnParkedCall, ParkedCallGiveUp, ParkedCallTimeOut: out of parking."""
        call = self._parkee_call(h)
        if call is None or call.parked is None:
            return []
        call.parked = None
        return [Publish(TOPIC_CALLS, self._call_event("call.unparked", call))]

    def _parkee_call(self, h: Headers) -> Call | None:
        channel = self.channels.get(h.get("ParkeeUniqueid", ""))
        return self.calls.get(channel.linkedid) if channel is not None else None

    def _transfer_failed(self, call: Call, value: str, out: list[Effect]) -> None:
        """A transfer that could not be placed (issue #8): on the call's view until the next
        attempt, and a ``call.transfer_failed`` event for the console."""
        if not value:  # a new attempt starts
            call.extra.pop("transfer_failed", None)
            return
        target, _, status = value.partition(" ")
        failure = {
            "target": target,
            "status": status or "UNKNOWN",
            "reason": TRANSFER_FAILURES.get(status, f"the call failed ({status or 'unknown'})"),
        }
        call.extra["transfer_failed"] = failure
        out.append(Publish(TOPIC_CALLS, self._call_event("call.transfer_failed", call, **failure)))

    def _on_rename(self, h: Headers, msg: Message) -> list[Effect]:
        channel = self._channel(h, self._time(h), None)
        if channel is not None:
            channel.name = h.get("Newname", channel.name)
        return []

    def _on_bridge_enter(self, h: Headers, msg: Message) -> list[Effect]:
        t = self._time(h)
        channel = self._channel(h, t, None)
        if channel is None:
            return []
        channel.bridge = h.get("BridgeUniqueid")
        if channel.context == HOLD_CONTEXT:  # retrieved: bridged back out of cc-hold
            return self._hold_ended(channel, t)
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
        call.held.add(channel.uniqueid)
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
        if h.get("Context") == HOLD_CONTEXT and not channel.bridge:
            # Held by the console when we (re)connected; on hold since then at the latest.
            channel.context = HOLD_CONTEXT
            if channel.on_hold_since is None:
                channel.on_hold_since = now
                call.held.add(channel.uniqueid)
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


_VARIABLE_FIELDS = {
    "CC_TENANT": "tenant",
    "CC_DID": "did",
    "CC_LANGUAGE": "language",
    "QUEUESTATUS": "queue_status",
}
# Dial's DIALSTATUS when a transfer fails, as the console says it.
TRANSFER_FAILURES = {
    "CONGESTION": "no route to the number, or the network is congested",
    "CHANUNAVAIL": "the line to the number is unavailable",
    "BUSY": "the number is busy",
    "NOANSWER": "nobody answered",
    "CANCEL": "the call was cancelled",
}
