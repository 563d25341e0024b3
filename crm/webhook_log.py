"""What the API shows of webhooks: an endpoint, and a tenant's deliveries with their attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def endpoint_view(ep: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": ep.id,
        "tenant_id": ep.tenant_id,
        "url": ep.url,
        "events": list(ep.events or []),
        "active": ep.active,
        "description": ep.description,
        "created_at": ep.created_at.isoformat(),
    }
    if with_secret:
        view["secret"] = ep.secret
    return view


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


async def delivery_log(
    session: AsyncSession, tenant_id: int, *, endpoint_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Recent deliveries of a tenant with every attempt (newest first)."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id)
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    deliveries = list(await session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit)))
    attempts: dict[int, list[dict[str, Any]]] = {d.id: [] for d in deliveries}
    if deliveries:
        rows = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
        )
        for a in rows:
            attempts[a.delivery_id].append(
                {
                    "attempt": a.attempt,
                    "at": a.at.isoformat(),
                    "status_code": a.status_code,
                    "error": a.error,
                    "duration_ms": round(a.duration_ms, 1),
                }
            )
    return [
        {
            "id": d.id,
            "endpoint_id": d.endpoint_id,
            "event_id": d.event_id,
            "event": d.event,
            "status": d.status,
            "attempts": d.attempts,
            "next_attempt_at": _iso(d.next_attempt_at) if d.status == "pending" else None,
            "last_status_code": d.last_status_code,
            "last_error": d.last_error,
            "created_at": _iso(d.created_at),
            "finished_at": _iso(d.finished_at),
            "log": attempts[d.id],
        }
        for d in deliveries
    ]
