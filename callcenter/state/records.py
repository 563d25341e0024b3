"""Value types that leave the live state: what a finished call looks like to persistence.

Infrastructure-free on purpose: the state machines produce these, repositories store them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# offered = entered a queue. Outcomes follow docs/metrics (GUIDE §5):
#   answered   an agent connected
#   abandoned  caller hung up while waiting in the queue
#   timeout    left by the queue's timeout
#   blocked    joinempty/leaveempty/full: the queue refused or dropped the caller
#   diverted   sent to voicemail or callback by a rule or the caller's choice
#   ivr        ended before reaching a queue (IVR, announcement, closed)
#   lost       the PBX went away while the call was up (restart, crash); ended_at = last seen
Outcome = Literal["answered", "abandoned", "timeout", "blocked", "diverted", "ivr", "lost"]

EventRow = tuple[str, datetime, str, Mapping[str, Any]]
"""One entry of the call event log: ``(linkedid, at, type, data)``."""


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One finished call (all channels sharing a linkedid), ready to be stored as a row."""

    linkedid: str
    entered_at: datetime  # timezone-aware UTC
    ended_at: datetime
    outcome: Outcome
    tenant: str | None = None  # tenant slug, from the CC_TENANT channel variable
    did: str | None = None  # dialled number, E.164 where it parses
    caller: str | None = None  # caller number in E.164; None if anonymous or malformed
    caller_raw: str | None = None  # caller id as the PBX delivered it
    caller_name: str | None = None
    language: str | None = None
    queue: str | None = None
    agent: str | None = None  # member interface or name that answered
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    wait_seconds: float | None = None  # queued_at → answered_at, or → leaving the queue
    talk_seconds: float | None = None  # answered_at → end of the agent leg
    hangup_cause: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # IVR path, CRM contact id, etc.
