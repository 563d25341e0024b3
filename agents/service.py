"""Receptionist presence: the database says what is wanted, AMI makes app_queue agree.

Every change is stored first (so a restart of the app or the PBX restores it) and then
applied; :meth:`AgentService.reconcile_all` runs after every AMI (re)connect because
app_queue keeps no runtime members across a restart (``persistentmembers = no``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select

from agents.membership import (
    AgentSpec,
    LiveMember,
    MemberAction,
    MembershipError,
    Presence,
    plan,
)
from agents.models import AgentPresence
from callcenter.db.models import Agent, Queue, QueueMember, User, utcnow
from callcenter.db.session import Database
from callcenter.pbx.ami.client import AmiError
from callcenter.pbx.ami.message import Message

log = logging.getLogger(__name__)


class AgentError(Exception):
    """An agent operation was refused; ``status`` is the HTTP status that fits."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


class AmiApi(Protocol):
    @property
    def connected(self) -> bool: ...

    async def send_action(
        self, name: str, headers: Any = None, *, timeout: float | None = None, check: bool = False
    ) -> Message: ...

    async def send_list_action(
        self, name: str, headers: Any = None, *, timeout: float | None = None
    ) -> list[Message]: ...


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What one operation did: the wanted presence, the actions sent, whether applied."""

    agent_id: int
    presence: Presence
    actions: tuple[MemberAction, ...]
    applied: bool
    detail: str = ""

    def view(self) -> dict[str, Any]:
        p = self.presence
        return {
            "agent_id": self.agent_id,
            "logged_in": p.logged_in,
            "paused": p.paused,
            "pause_reason": p.reason,
            "paused_queues": sorted(p.paused_queues) if p.paused_queues is not None else None,
            "applied": self.applied,
            "actions": [type(a).__name__ + ":" + a.queue for a in self.actions],
            "detail": self.detail,
        }


WRAPUP = "wrapup"  # the pause reason of after-call work (dashboards.views.WRAPUP_REASON)


class AgentService:
    """Log in/out and pause agents; reconcile app_queue with the database.

    Wrap-up (a pause of all queues with the reason ``wrapup``) ends by itself after
    ``wrapup_seconds`` (0: never): a timer of the instance that started it, and
    :meth:`expire_wrapups` (run periodically and after reconnects) for wrap-ups whose
    timer was lost with another instance or a restart. Both count from the stored
    ``updated_at`` of the presence.
    """

    def __init__(
        self, db: Database, ami: AmiApi, reasons: Sequence[str], *, wrapup_seconds: float = 0
    ) -> None:
        self.db = db
        self.ami = ami
        self.reasons = tuple(reasons)
        self.wrapup_seconds = wrapup_seconds
        self._locks: dict[int, asyncio.Lock] = {}
        self._wrapups: dict[int, asyncio.Task[None]] = {}
        self.reconciles = 0
        self.wrapups_ended = 0

    # ------------------------------------------------------------------ lookups

    async def agent_for_user(self, user_id: int) -> int | None:
        """The agent position of a user (the lowest id if several), or None."""
        async with self.db.session() as session:
            return await session.scalar(
                select(Agent.id).where(Agent.user_id == user_id).order_by(Agent.id).limit(1)
            )

    async def spec(self, agent_id: int) -> AgentSpec:
        """The stored agent with its queues; :class:`AgentError` 404 if unknown."""
        async with self.db.session() as session:
            agent = await session.get(Agent, agent_id)
            if agent is None:
                raise AgentError(404, "not_found", f"no agent {agent_id}")
            rows = await session.execute(
                select(Queue.name, QueueMember.penalty)
                .join(QueueMember, QueueMember.queue_id == Queue.id)
                .where(QueueMember.agent_id == agent_id)
            )
            queues = {name: penalty for name, penalty in rows}
            return AgentSpec(
                agent.id, agent.name, agent.interface, agent.state_interface or "", queues
            )

    async def presence(self, agent_id: int) -> Presence:
        """The wanted presence as stored (logged out when never set)."""
        async with self.db.session() as session:
            row = await session.get(AgentPresence, agent_id)
        return _presence(row)

    async def live_members(self, interface: str) -> dict[str, LiveMember]:
        """The interface's memberships as app_queue reports them now."""
        events = await self.ami.send_list_action("QueueStatus", {"Member": interface})
        out = {}
        for msg in events:
            if msg.name == "QueueMember" and msg.get("Location") == interface:
                queue = msg.get("Queue") or ""
                out[queue] = LiveMember(
                    queue=queue,
                    paused=msg.get("Paused") == "1",
                    reason=msg.get("PausedReason") or "",
                    penalty=int(msg.get("Penalty") or 0),
                )
        return out

    # ------------------------------------------------------------------ operations

    async def login(self, agent_id: int) -> ApplyResult:
        """Member of every queue of the agent; a pause in force is kept."""
        return await self._change(
            agent_id, lambda _spec, p: Presence(True, p.paused, p.reason, p.paused_queues)
        )

    async def logout(self, agent_id: int) -> ApplyResult:
        """Out of every queue; the pause is cleared."""
        return await self._change(agent_id, lambda _spec, _p: Presence(False))

    async def pause(self, agent_id: int, reason: str, queue: str | None = None) -> ApplyResult:
        """Pause in all queues or one (added to the queues already paused); the reason must
        be one of the configured ones."""
        if reason not in self.reasons:
            raise AgentError(
                400,
                "invalid_request",
                f"reason: {reason!r} is not one of {', '.join(self.reasons)}",
            )

        def change(spec: AgentSpec, p: Presence) -> Presence:
            if queue is not None and queue not in spec.queues:
                raise AgentError(
                    400, "invalid_request", f"queue: agent {agent_id} is not a member of {queue!r}"
                )
            if not p.logged_in:
                raise AgentError(409, "conflict", f"agent {agent_id} is not logged in")
            if queue is None:
                return Presence(True, True, reason, None)
            queues = (p.paused_queues or frozenset()) if p.paused else frozenset()
            if p.paused and p.paused_queues is None:
                return Presence(True, True, reason, None)
            return Presence(True, True, reason, queues | {queue})

        return await self._change(agent_id, change)

    async def unpause(self, agent_id: int, queue: str | None = None) -> ApplyResult:
        """Unpause everywhere, or in one queue (the others stay paused)."""

        def change(spec: AgentSpec, p: Presence) -> Presence:
            if not p.logged_in:
                raise AgentError(409, "conflict", f"agent {agent_id} is not logged in")
            if queue is None or not p.paused:
                return Presence(True)
            paused = p.paused_queues if p.paused_queues is not None else frozenset(spec.queues)
            left = paused - {queue}
            return Presence(True, bool(left), p.reason if left else "", frozenset(left) or None)

        return await self._change(agent_id, change)

    async def create(
        self, name: str, interface: str, state_interface: str = "", user_id: int | None = None
    ) -> int:
        """A new agent position; the interface is checked before anything is stored."""
        try:
            AgentSpec(0, name, interface, state_interface, {}).check()
        except MembershipError as exc:
            raise AgentError(400, "invalid_request", str(exc).replace("agent 0: ", "")) from None
        async with self.db.session() as session:
            if await session.scalar(select(Agent.id).where(Agent.interface == interface)):
                raise AgentError(409, "conflict", f"interface {interface!r} already has an agent")
            if user_id is not None and await session.get(User, user_id) is None:
                raise AgentError(400, "invalid_request", f"user_id: no user {user_id}")
            agent = Agent(
                name=name,
                interface=interface,
                state_interface=state_interface or None,
                user_id=user_id,
            )
            session.add(agent)
            await session.flush()
            return agent.id

    async def set_queues(self, agent_id: int, queues: Mapping[str, int]) -> ApplyResult:
        """Replace the agent's queue memberships (name → penalty) and apply them now."""
        for name, penalty in queues.items():
            if not isinstance(penalty, int) or isinstance(penalty, bool) or not 0 <= penalty <= 99:
                raise AgentError(400, "invalid_request", f"queues.{name}: penalty must be 0-99")
        lock = self._locks.setdefault(agent_id, asyncio.Lock())
        async with lock:
            async with self.db.session() as session:
                if await session.get(Agent, agent_id) is None:
                    raise AgentError(404, "not_found", f"no agent {agent_id}")
                rows = await session.execute(select(Queue.name, Queue.id))
                ids = {name: qid for name, qid in rows}
                unknown = sorted(set(queues) - set(ids))
                if unknown:
                    raise AgentError(
                        400, "invalid_request", f"queues: no such queue {', '.join(unknown)}"
                    )
                await session.execute(delete(QueueMember).where(QueueMember.agent_id == agent_id))
                for name, penalty in queues.items():
                    session.add(QueueMember(queue_id=ids[name], agent_id=agent_id, penalty=penalty))
            return await self._apply(await self.spec(agent_id), await self.presence(agent_id))

    async def _change(
        self, agent_id: int, change: Callable[[AgentSpec, Presence], Presence]
    ) -> ApplyResult:
        """Store ``change(spec, stored presence)`` as the wanted presence, then apply it."""
        lock = self._locks.setdefault(agent_id, asyncio.Lock())
        async with lock:
            spec = await self.spec(agent_id)
            async with self.db.session() as session:
                row = await session.get(AgentPresence, agent_id)
                want = change(spec, _presence(row))
                if row is None:
                    row = AgentPresence(agent_id=agent_id)
                    session.add(row)
                row.logged_in, row.paused, row.pause_reason = (
                    want.logged_in,
                    want.paused,
                    want.reason,
                )
                row.paused_queues = (
                    sorted(want.paused_queues) if want.paused_queues is not None else None
                )
                row.updated_at = utcnow()
            self._wrapup_timer(agent_id, want)
            return await self._apply(spec, want)

    # ------------------------------------------------------------------ wrap-up

    def _wrapup_timer(self, agent_id: int, want: Presence) -> None:
        """(Re)start the agent's wrap-up timer when ``want`` is a wrap-up, else stop it."""
        old = self._wrapups.pop(agent_id, None)
        if old is not None and old is not asyncio.current_task():
            old.cancel()
        if self.wrapup_seconds > 0 and _in_wrapup(want):
            self._wrapups[agent_id] = asyncio.get_running_loop().create_task(
                self._wrapup_later(agent_id), name=f"wrapup-{agent_id}"
            )

    async def _wrapup_later(self, agent_id: int) -> None:
        await asyncio.sleep(self.wrapup_seconds)
        if self._wrapups.get(agent_id) is asyncio.current_task():
            del self._wrapups[agent_id]
        try:
            await self.end_wrapup(agent_id)
        except Exception:  # logged; the periodic sweep tries again
            log.exception("agent %s: wrap-up not ended", agent_id)

    async def end_wrapup(self, agent_id: int) -> bool:
        """Ready again if the agent is still in wrap-up; True if it was ended."""
        if not _in_wrapup(await self.presence(agent_id)):
            return False

        def change(_spec: AgentSpec, p: Presence) -> Presence:
            return Presence(True) if _in_wrapup(p) else p

        await self._change(agent_id, change)
        self.wrapups_ended += 1
        log.info("agent %s: wrap-up over after %s s, ready", agent_id, self.wrapup_seconds)
        return True

    async def expire_wrapups(self) -> int:
        """End every stored wrap-up older than ``wrapup_seconds``; returns how many."""
        if self.wrapup_seconds <= 0:
            return 0
        cutoff = utcnow() - timedelta(seconds=self.wrapup_seconds)
        async with self.db.session() as session:
            ids = list(
                await session.scalars(
                    select(AgentPresence.agent_id).where(
                        AgentPresence.paused.is_(True),
                        AgentPresence.pause_reason == WRAPUP,
                        AgentPresence.updated_at <= cutoff,
                    )
                )
            )
        ended = 0
        for agent_id in ids:
            if agent_id not in self._wrapups and await self.end_wrapup(agent_id):
                ended += 1
        return ended

    async def watch_wrapups(self, interval: float = 5.0) -> None:
        """Run forever: :meth:`expire_wrapups` every ``interval`` seconds (and stop the
        timers when cancelled at shutdown)."""
        try:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.expire_wrapups()
                except Exception:
                    log.exception("wrap-up sweep failed")
        finally:
            for task in self._wrapups.values():
                task.cancel()
            self._wrapups.clear()

    async def _apply(self, spec: AgentSpec, want: Presence) -> ApplyResult:
        if not self.ami.connected:
            return ApplyResult(
                spec.agent_id, want, (), False, "PBX not connected: saved, applied on reconnect"
            )
        failed = []
        try:
            actions = plan(spec, want, await self.live_members(spec.interface))
            for action in actions:
                name, headers = action.action()
                msg = await self.ami.send_action(name, headers)
                if msg.get("Response") != "Success":
                    failed.append(f"{name} {action.queue}: {msg.get('Message')}")
        except MembershipError as exc:
            raise AgentError(422, "invalid_agent", str(exc)) from None
        except AmiError as exc:  # connection lost midway: the reconnect's reconcile finishes
            return ApplyResult(
                spec.agent_id, want, (), False, f"PBX unavailable ({exc}): saved, applied later"
            )
        if failed:
            log.warning("agent %s: %s", spec.agent_id, "; ".join(failed))
        return ApplyResult(spec.agent_id, want, tuple(actions), not failed, "; ".join(failed))

    async def reconcile_all(self) -> int:
        """Make app_queue match every agent's stored presence; returns actions sent."""
        async with self.db.session() as session:
            ids = list(await session.scalars(select(Agent.id).order_by(Agent.id)))
        sent = 0
        for agent_id in ids:
            lock = self._locks.setdefault(agent_id, asyncio.Lock())
            async with lock:
                try:
                    result = await self._apply(
                        await self.spec(agent_id), await self.presence(agent_id)
                    )
                except AgentError as exc:
                    log.error("agent %s not reconciled: %s", agent_id, exc.detail)
                    continue
                sent += len(result.actions)
        self.reconciles += 1
        log.info("agents reconciled: %d agents, %d AMI actions", len(ids), sent)
        return sent


def _in_wrapup(p: Presence) -> bool:
    return p.logged_in and p.paused and p.reason == WRAPUP and p.paused_queues is None


def _presence(row: AgentPresence | None) -> Presence:
    if row is None:
        return Presence()
    queues = frozenset(row.paused_queues) if row.paused_queues is not None else None
    return Presence(row.logged_in, row.paused, row.pause_reason or "", queues)
