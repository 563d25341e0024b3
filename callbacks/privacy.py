"""The callback list in the contact's privacy export and erasure (a :mod:`crm.privacy`
store, registered by the composition root: callbacks is wired before the CRM).

A callback request holds the caller's number and the call's linkedid; kept after an
erasure it would re-identify the pseudonymised call rows. Erasure deletes the requests of
the contact's numbers (in the tenant; every tenant for a shared contact); their attempts
go with them (ON DELETE CASCADE).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from callbacks.models import CallbackRequest


def _belongs(tenant_id: int | None, numbers: Sequence[str]) -> ColumnElement[bool]:
    if not numbers:
        return false()
    clause: ColumnElement[bool] = CallbackRequest.number.in_(list(numbers))
    return clause if tenant_id is None else and_(clause, CallbackRequest.tenant_id == tenant_id)


class CallbackRequests:
    """``crm.privacy.PersonalStore`` of ``callback_requests``."""

    name = "callback_requests"

    async def export(
        self, session: AsyncSession, tenant_id: int, contact_id: int, numbers: Sequence[str]
    ) -> list[dict[str, Any]]:
        rows = await session.scalars(
            select(CallbackRequest).where(_belongs(tenant_id, numbers)).order_by(CallbackRequest.id)
        )
        return [
            {
                "id": r.id,
                "number": r.number,
                "queue": r.queue,
                "language": r.language,
                "requested_at": r.requested_at.isoformat(),
                "status": r.status,
            }
            for r in rows
        ]

    async def erase(
        self,
        session: AsyncSession,
        tenant_id: int | None,
        contact_id: int,
        numbers: Sequence[str],
    ) -> dict[str, int]:
        result = await session.execute(delete(CallbackRequest).where(_belongs(tenant_id, numbers)))
        return {"callback_requests_deleted": int(getattr(result, "rowcount", 0) or 0)}
