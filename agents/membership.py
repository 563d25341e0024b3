"""Pure planning of queue membership: wanted presence + what app_queue has → AMI actions.

The same :func:`plan` serves log-in, log-out, pause, unpause and the reconcile after an
AMI (re)connect: the caller states what is wanted (from the database) and what the PBX
reports for the interface (``QueueStatus`` with ``Member``), and gets back the actions
that close the gap, nothing when they already agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

INTERFACE = re.compile(r"^(PJSIP|SIP|IAX2|Local)/[A-Za-z0-9@._+-]{1,100}(/n)?$")
STATE_INTERFACE = re.compile(r"^(Custom|PJSIP|SIP|IAX2):[A-Za-z0-9@._+-]{1,100}$")
REASON = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class MembershipError(ValueError):
    """An agent's interface, name or reason cannot be sent to the PBX; says which."""


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """An agent as stored: interface, state interface and queue memberships (penalties)."""

    agent_id: int
    name: str
    interface: str
    state_interface: str
    queues: Mapping[str, int]  # queue name → penalty

    def check(self) -> None:
        """Refuse values that must never reach an AMI header or the dialplan."""
        if not INTERFACE.match(self.interface):
            raise MembershipError(
                f"agent {self.agent_id}: interface {self.interface!r} must look like "
                "PJSIP/anna or Local/agent1@agents/n"
            )
        if self.state_interface and not STATE_INTERFACE.match(self.state_interface):
            raise MembershipError(
                f"agent {self.agent_id}: state interface {self.state_interface!r} must look "
                "like Custom:agent1 or PJSIP/anna"
            )
        if not self.name or any(c in self.name for c in "\r\n,|"):
            raise MembershipError(f"agent {self.agent_id}: name {self.name!r} is empty or unsafe")


@dataclass(frozen=True, slots=True)
class Presence:
    """What the agent wants: logged in or not; paused (all queues or some) with a reason."""

    logged_in: bool = False
    paused: bool = False
    reason: str = ""
    paused_queues: frozenset[str] | None = None  # None: the pause covers every queue

    def paused_in(self, queue: str) -> bool:
        if not self.paused:
            return False
        return self.paused_queues is None or queue in self.paused_queues


@dataclass(frozen=True, slots=True)
class LiveMember:
    """One membership as app_queue reports it."""

    queue: str
    paused: bool
    reason: str
    penalty: int


@dataclass(frozen=True, slots=True)
class QueueAdd:
    queue: str
    interface: str
    name: str
    state_interface: str
    penalty: int
    paused: bool
    reason: str

    def action(self) -> tuple[str, dict[str, str]]:
        headers = {
            "Queue": self.queue,
            "Interface": self.interface,
            "Penalty": str(self.penalty),
            "Paused": "true" if self.paused else "false",
            "MemberName": self.name,
        }
        if self.state_interface:
            headers["StateInterface"] = self.state_interface
        return "QueueAdd", headers


@dataclass(frozen=True, slots=True)
class QueueRemove:
    queue: str
    interface: str

    def action(self) -> tuple[str, dict[str, str]]:
        return "QueueRemove", {"Queue": self.queue, "Interface": self.interface}


@dataclass(frozen=True, slots=True)
class QueuePause:
    queue: str
    interface: str
    paused: bool
    reason: str

    def action(self) -> tuple[str, dict[str, str]]:
        headers = {
            "Queue": self.queue,
            "Interface": self.interface,
            "Paused": "true" if self.paused else "false",
        }
        if self.reason:
            headers["Reason"] = self.reason
        return "QueuePause", headers


@dataclass(frozen=True, slots=True)
class QueuePenalty:
    queue: str
    interface: str
    penalty: int

    def action(self) -> tuple[str, dict[str, str]]:
        return "QueuePenalty", {
            "Queue": self.queue,
            "Interface": self.interface,
            "Penalty": str(self.penalty),
        }


MemberAction = QueueAdd | QueueRemove | QueuePause | QueuePenalty


def plan(spec: AgentSpec, want: Presence, live: Mapping[str, LiveMember]) -> list[MemberAction]:
    """The actions that make app_queue match ``want`` for ``spec`` (pure, ordered).

    Logged out: every live membership is removed. Logged in: missing ones are added (with
    pause and reason), extra ones removed, pause/reason and penalty corrected in place.
    """
    spec.check()
    if want.paused and want.reason and not REASON.match(want.reason):
        raise MembershipError(f"pause reason {want.reason!r} is not a plain word")
    out: list[MemberAction] = []
    wanted = spec.queues if want.logged_in else {}
    for queue in sorted(set(live) - set(wanted)):
        out.append(QueueRemove(queue, spec.interface))
    for queue in sorted(wanted):
        penalty = wanted[queue]
        paused = want.paused_in(queue)
        reason = want.reason if paused else ""
        have = live.get(queue)
        if have is None:
            out.append(
                QueueAdd(
                    queue, spec.interface, spec.name, spec.state_interface, penalty, paused, reason
                )
            )
            if paused and reason:  # QueueAdd cannot carry the reason; added paused, then set
                out.append(QueuePause(queue, spec.interface, True, reason))
            continue
        if have.paused != paused or (paused and have.reason != reason):
            out.append(QueuePause(queue, spec.interface, paused, reason))
        if have.penalty != penalty:
            out.append(QueuePenalty(queue, spec.interface, penalty))
    return out
