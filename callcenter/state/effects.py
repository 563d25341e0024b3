"""Effects returned by the live-state machines; the runner (service.py) executes them.

The state machines never do I/O: they describe what should happen and the runner does it,
which keeps them testable with plain event lists and free of locks.

Events published on the bus (all carry ``type``; times are epoch seconds, PBX clock):

topic ``calls`` (every call event also has ``linkedid``, ``caller`` E.164 or None,
``tenant``, ``queue``)
    ``call.started``    first channel of a linkedid seen
    ``call.updated``    tenant, language, CRM contact or diversion set: ``language``,
                        ``contact``, ``diverted_to``
    ``call.queued``     joined a queue: ``position``, ``language``, ``did``, ``contact``
    ``call.answered``   an agent connected: ``agent``, ``wait``
    ``call.hold``       ``held`` true/false
    ``call.ended``      last channel gone: ``outcome`` (records.Outcome), ``agent``,
                        ``wait``, ``talk``, ``ended_at``
topic ``queues``
    ``queue.caller_joined``  ``queue``, ``linkedid``, ``position``, ``count``, ``caller``,
                             ``tenant``
    ``queue.caller_left``    ``queue``, ``linkedid``, ``reason`` (``left`` or
                             ``unanswered``: hung up *or* timed out), ``count``
    ``queue.answered``       ``queue``, ``linkedid``, ``agent``, ``wait``
topic ``agents``
    ``agent.status``    the agent view of :meth:`AgentBoard.agent_view` (status, in_call,
                        paused, paused_reason, since, calls_taken, queues …)
all three topics
    ``resynced``        the state was rebuilt after a (re)connect: reload the snapshot
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callcenter.state.records import CallRecord
from callcenter.topics import TOPIC_AGENTS, TOPIC_CALLS, TOPIC_QUEUES

__all__ = ["TOPIC_AGENTS", "TOPIC_CALLS", "TOPIC_QUEUES", "CallFinished", "Effect", "Publish"]


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish a small JSON-able domain event (it has a ``type`` key) on a bus topic."""

    topic: str
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallFinished:
    """A call (all channels of one linkedid) is over: store it as a call row."""

    record: CallRecord


Effect = Publish | CallFinished
