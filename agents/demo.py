"""Seeding demo receptionist positions (``callcenter demo`` and the demo desk phones of
``lines``): the same rows whatever made the position."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.models import AgentPresence
from callcenter.db.models import Agent, QueueMember


async def seat(session: AsyncSession, agent: Agent, queue_ids: Iterable[int]) -> None:
    """Make ``agent`` a member (penalty 0) of each of ``queue_ids`` and logged in, adding only
    what is missing: the demo seeds again on every start, over what a user changed."""
    have = set(
        await session.scalars(select(QueueMember.queue_id).where(QueueMember.agent_id == agent.id))
    )
    for queue_id in queue_ids:
        if queue_id not in have:
            session.add(QueueMember(queue_id=queue_id, agent_id=agent.id, penalty=0))
    if await session.get(AgentPresence, agent.id) is None:
        session.add(AgentPresence(agent_id=agent.id, logged_in=True))
