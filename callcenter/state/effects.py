"""Effects returned by the live-state machines; the runner (service.py) executes them.

The state machines never do I/O: they describe what should happen and the runner does it,
which keeps them testable with plain event lists and free of locks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callcenter.state.records import CallRecord

TOPIC_CALLS = "calls"
TOPIC_QUEUES = "queues"
TOPIC_AGENTS = "agents"


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
