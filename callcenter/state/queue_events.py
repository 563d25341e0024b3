"""app_queue events of the live state (callers joining and leaving, agents rung and
connected, members, QueueStatus entries). Pure like :mod:`callcenter.state.live`."""

from __future__ import annotations

from callcenter.pbx.ami.message import Message
from callcenter.phone.numbers import is_anonymous, normalize_number
from callcenter.state.agents import member_from
from callcenter.state.calls import Call
from callcenter.state.channels import (
    int_header,
)
from callcenter.state.core import Headers, LiveStateCore
from callcenter.state.effects import (
    TOPIC_AGENTS,
    TOPIC_CALLS,
    TOPIC_QUEUES,
    Effect,
    Publish,
)
from callcenter.state.queues import QueueState, WaitingCaller


class QueueEvents(LiveStateCore):
    """Handlers of the app_queue events."""

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
