"""Validate and store callback requests.

A callback costs the secretariat a call, so a number is called back only when the one
destination policy (:mod:`callcenter.phone.policy`) allows it: valid, ordinary (fixed line,
mobile, VoIP, toll-free), in a country the tenant may dial, not withheld.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from callcenter.callbacks.models import CallbackRequest
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.phone.policy import DestinationPolicy


def callback_number(raw: str | None, policy: DestinationPolicy) -> str:
    """``raw`` as E.164 if ``policy`` lets it be called back, else
    :class:`~callcenter.phone.policy.DestinationRefused` (reason ``anonymous`` for a
    withheld number)."""
    return policy.check(raw or "").e164


@dataclass(frozen=True, slots=True)
class NewCallback:
    """What the caller asked for; ``number`` must come from :func:`callback_number`."""

    tenant: str
    number: str
    queue: str
    language: str
    linkedid: str | None
    requested_at: datetime


@dataclass(frozen=True, slots=True)
class StoredCallback:
    id: int
    tenant: str
    number: str
    queue: str
    language: str
    requested_at: datetime
    status: str
    linkedid: str | None


class CallbackRepository:
    """The ``callback_requests`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, request: NewCallback) -> int:
        """Store a pending request and return its id; the same linkedid twice is one request."""
        if request.requested_at.tzinfo is None:
            raise ValueError("requested_at must be timezone-aware")
        values = {
            "tenant": request.tenant,
            "tenant_id": select(Tenant.id).where(Tenant.slug == request.tenant).scalar_subquery(),
            # The tenant's policy decided before; this guards the table against anything
            # that is no callable number at all, whoever calls add().
            "number": callback_number(request.number, DestinationPolicy.anywhere()),
            "queue": request.queue,
            "language": request.language,
            "requested_at": request.requested_at.astimezone(UTC),
            "status": "pending",
            "linkedid": request.linkedid,
        }
        stmt = (
            self._db.insert(CallbackRequest)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["linkedid"])
            .returning(CallbackRequest.id)
        )
        async with self._db.session() as session:
            new_id = (await session.execute(stmt)).scalar_one_or_none()
            if new_id is None:  # this call's request is stored already
                found = select(CallbackRequest.id).where(
                    CallbackRequest.linkedid == request.linkedid
                )
                new_id = (await session.execute(found)).scalar_one()
            return int(new_id)

    async def pending(self, tenant: str | None = None) -> list[StoredCallback]:
        """Pending requests, oldest first (optionally of one tenant)."""
        query = select(CallbackRequest).where(CallbackRequest.status == "pending")
        if tenant is not None:
            query = query.where(CallbackRequest.tenant == tenant)
        async with self._db.session() as session:
            rows = (await session.execute(query.order_by(CallbackRequest.requested_at))).scalars()
            return [_stored(r) for r in rows]

    async def by_linkedid(self, linkedid: str) -> StoredCallback | None:
        async with self._db.session() as session:
            row = (
                await session.execute(
                    select(CallbackRequest).where(CallbackRequest.linkedid == linkedid)
                )
            ).scalar_one_or_none()
            return _stored(row) if row is not None else None


def _stored(row: CallbackRequest) -> StoredCallback:
    return StoredCallback(
        row.id,
        row.tenant,
        row.number,
        row.queue,
        row.language,
        row.requested_at,
        row.status,
        row.linkedid,
    )
