"""Validate and store callback requests.

A callback costs the secretariat a call, so a number is called back only when the one
destination policy (:mod:`callcenter.phone.policy`) allows it: valid, ordinary (fixed line,
mobile, VoIP, toll-free), in a country the tenant may dial, not withheld.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from callbacks.models import ACTIVE, CallbackRequest
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.phone.policy import DestinationPolicy


def callback_number(raw: str | None, policy: DestinationPolicy) -> str:
    """``raw`` as E.164 if ``policy`` lets it be called back, else
    :class:`~callcenter.phone.policy.DestinationRefused` (reason ``anonymous`` for a
    withheld number)."""
    return policy.check(raw or "").e164


class CallbackRateLimited(ValueError):
    """Too many requests for one number and tenant in the last hour (``reason``)."""

    reason = "rate_limited"


@dataclass(frozen=True, slots=True)
class NewCallback:
    """What the caller asked for; ``number`` must come from :func:`callback_number`."""

    tenant: str
    number: str
    queue: str
    language: str
    linkedid: str | None
    requested_at: datetime
    # The virtual place: when the caller joined the queue (None: requested_at) and their
    # queue priority; wait_seconds is how long they had waited on the line.
    arrival_at: datetime | None = None
    priority: int = 0
    wait_seconds: float | None = None
    source: str = "ivr"  # ivr, queue, api, console
    note: str | None = None
    due_at: datetime | None = None  # not before (the tenant's next opening, a chosen time)
    expires_at: datetime | None = None
    promised_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Added:
    id: int
    merged: bool  # True: an active request for this number existed and kept its row


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


RATE_WINDOW = timedelta(hours=1)


class CallbackRepository:
    """The ``callback_requests`` table: new requests (merged per number and tenant).

    ``max_age``: the tenant's ``[callbacks] max_age`` in seconds (None: no limit); a request
    then expires that long after it was made, or earlier if it says so itself."""

    def __init__(
        self,
        database: Database,
        *,
        max_per_hour: int = 5,
        max_age: Callable[[str], float | None] = lambda _tenant: None,
    ) -> None:
        self._db = database
        self.max_per_hour = max_per_hour
        self._max_age = max_age

    async def add(self, request: NewCallback) -> int:
        """Store a pending request and return its id; the same linkedid twice is one request."""
        return (await self.add_or_merge(request)).id

    async def add_or_merge(self, request: NewCallback) -> Added:
        """Store a pending request, or merge it into the active one for the same number and
        tenant, which keeps the better place (earlier arrival, higher priority).

        Raises :class:`~callcenter.phone.policy.DestinationRefused` for a number that is no
        callable number at all (the tenant's own policy decided before) and
        :class:`CallbackRateLimited` after ``max_per_hour`` requests for one number.
        """
        if request.requested_at.tzinfo is None:
            raise ValueError("requested_at must be timezone-aware")
        # The tenant's policy decided before; this guards the table against anything that
        # is no callable number at all, whoever calls add().
        number = callback_number(request.number, DestinationPolicy.anywhere())
        request = replace(request, expires_at=self._expiry(request))
        for _ in range(3):  # a concurrent insert of the same number: merge into it instead
            try:
                return await self._add_once(request, number)
            except IntegrityError:
                continue
        raise CallbackRateLimited(f"callback number {number}: stored concurrently, try again")

    def _expiry(self, request: NewCallback) -> datetime | None:
        age = self._max_age(request.tenant)
        limit = request.requested_at + timedelta(seconds=age) if age is not None else None
        given = request.expires_at
        if limit is None or given is None:
            return given or limit
        return min(given, limit)

    async def _add_once(self, request: NewCallback, number: str) -> Added:
        r = CallbackRequest
        now = request.requested_at.astimezone(UTC)
        arrival = (request.arrival_at or request.requested_at).astimezone(UTC)
        async with self._db.session() as session:
            if request.linkedid is not None:
                same_call = (
                    await session.execute(select(r.id).where(r.linkedid == request.linkedid))
                ).scalar_one_or_none()
                if same_call is not None:  # this call's request is stored already
                    return Added(int(same_call), merged=False)
            active = (
                await session.execute(
                    select(r)
                    .where(r.tenant == request.tenant, r.number == number, r.status.in_(ACTIVE))
                    .with_for_update()
                )
            ).scalar_one_or_none()
            recent = (
                await session.execute(
                    select(func.coalesce(func.sum(r.requests), 0)).where(
                        r.tenant == request.tenant,
                        r.number == number,
                        r.requested_at > now - RATE_WINDOW,
                    )
                )
            ).scalar_one()
            if int(recent) >= self.max_per_hour:
                raise CallbackRateLimited(
                    f"callback number {number}: {int(recent)} requests in the last hour "
                    f"(limit {self.max_per_hour})"
                )
            if active is not None:
                active.requests += 1
                active.priority = max(active.priority, request.priority)
                if arrival < (active.arrival_at or active.requested_at):
                    active.arrival_at = arrival
                if active.expires_at is not None and request.expires_at is not None:
                    # Asked again: the caller still wants the call, so it lives on.
                    active.expires_at = max(active.expires_at, request.expires_at)
                if request.note:
                    active.note = f"{active.note}\n{request.note}" if active.note else request.note
                return Added(active.id, merged=True)
            row = CallbackRequest(
                tenant=request.tenant,
                tenant_id=(
                    await session.execute(select(Tenant.id).where(Tenant.slug == request.tenant))
                ).scalar_one_or_none(),
                number=number,
                queue=request.queue,
                language=request.language,
                requested_at=now,
                status="pending",
                linkedid=request.linkedid,
                arrival_at=arrival,
                priority=request.priority,
                wait_seconds=request.wait_seconds,
                source=request.source,
                note=request.note,
                due_at=request.due_at,
                expires_at=request.expires_at,
                promised_at=request.promised_at,
            )
            session.add(row)
            await session.flush()
            return Added(row.id, merged=False)

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
