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

from typing import Any

from callcenter.pbx.ami.message import Message
from callcenter.state.channel_events import ChannelEvents
from callcenter.state.core import Handler
from callcenter.state.effects import (
    TOPIC_AGENTS,
    TOPIC_CALLS,
    TOPIC_QUEUES,
    Effect,
    Publish,
)
from callcenter.state.queue_events import QueueEvents


class LiveState(ChannelEvents, QueueEvents):
    """Channels, calls, queues and agents of one PBX, rebuilt from AMI events."""

    def __init__(self, region: str = "DE", queue_tenants: dict[str, str] | None = None) -> None:
        super().__init__(region, queue_tenants)
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
            "ParkedCall": self._on_parked,
            "UnParkedCall": self._on_unparked,
            "ParkedCallGiveUp": self._on_unparked,
            "ParkedCallTimeOut": self._on_unparked,
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
        self._seen_parked = set()

    def abort_resync(self) -> None:
        """The list actions failed: keep the state as it was; a later resync retries."""
        self._resync = False

    def end_resync(self, now: float, *, parked_listed: bool = False) -> list[Effect]:
        """Drop what the PBX did not list; finish calls left without channels as ``lost``.

        ``parked_listed``: ``ParkedCalls`` was listed too, so a call it did not list is no
        longer parked."""
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
        if parked_listed:
            self._unpark_unlisted()
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

    def _unpark_unlisted(self) -> None:
        for call in self.calls.values():
            if call.parked is not None and call.linkedid not in self._seen_parked:
                call.parked = None

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
