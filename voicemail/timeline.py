"""Voicemail messages on a CRM contact's timeline (registered by the wiring)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.timeline import TimelineEntry
from voicemail.models import Voicemail
from voicemail.tasks import payload


async def entries(
    session: AsyncSession, tenant_id: int, contact_id: int, limit: int
) -> list[TimelineEntry]:
    rows = await session.scalars(
        select(Voicemail)
        .where(
            Voicemail.contact_id == contact_id,
            Voicemail.tenant_id == tenant_id,
            Voicemail.status == "stored",
        )
        .order_by(Voicemail.created_at.desc())
        .limit(limit)
    )
    return [TimelineEntry("voicemail", vm.created_at, vm.id, payload(vm)) for vm in rows]
