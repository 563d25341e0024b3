"""Managing callbacks: the pending list with virtual positions, cancel, reprioritise,
schedule, annotate, assign. Used by the REST routes (:mod:`.http`) and the console.

Changing a callback whose placeholder already waits in app_queue (``queued``) takes it back
to ``pending`` with a new fencing token: the old placeholder can no longer be dialled (its
token is stale, and the dialler hangs it up), and the dialler places it anew at its new
place. A callback being dialled or connected can only be annotated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from callbacks.dispatch import slot_ids
from callbacks.models import ACTIVE, WAITING, CallbackAttempt, CallbackRequest
from callbacks.ordering import Place, virtual_positions
from callcenter.db.session import Database

R = CallbackRequest


class NotChangeable(ValueError):
    """The callback is being dialled, connected or finished: ``status`` says which."""

    def __init__(self, request_id: int, status: str, stage: str | None) -> None:
        self.status = status
        where = stage or status
        super().__init__(f"callback {request_id} is {where}: it can no longer be changed")


class AfterExpiry(ValueError):
    """A schedule at or after the callback's expiry: it would never be dialled."""


@dataclass(frozen=True, slots=True)
class Changed:
    id: int
    tenant: str
    tenant_id: int | None
    old_slot: str | None  # placeholder channel to hang up (it was queued)


def view(row: CallbackRequest, position: int | None = None) -> dict[str, Any]:
    """The JSON shape of one callback (REST list and detail, bus events)."""

    def at(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": row.id,
        "tenant": row.tenant,
        "queue": row.queue,
        "number": row.number,
        "language": row.language,
        "status": row.status,
        "stage": row.stage,
        "priority": row.priority,
        "position": position,
        "source": row.source,
        "requested_at": at(row.requested_at),
        "arrival_at": at(row.arrival_at or row.requested_at),
        "promised_at": at(row.promised_at),
        "due_at": at(row.due_at),
        "expires_at": at(row.expires_at),
        "attempts": row.attempts,
        "requests": row.requests,
        "wait_seconds": row.wait_seconds,
        "outcome": row.outcome,
        "done_at": at(row.done_at),
        "agent": row.agent,
        "assigned_to": row.assigned_to,
        "assigned_until": at(row.assigned_until),
        "note": row.note,
    }


class CallbackAdmin:
    """``assign_fallback``: seconds an assigned callback waits for its receptionist before
    anyone may take it (the tenant's ``[callbacks] assign_fallback``)."""

    def __init__(
        self,
        database: Database,
        assign_fallback: Callable[[str], float] = lambda _tenant: 600.0,
    ) -> None:
        self._db = database
        self._fallback = assign_fallback

    async def pending(
        self,
        tenant_ids: frozenset[int] | None,
        *,
        tenant: str | None = None,
        queue: str | None = None,
        live: Callable[[str], list[Place]] = lambda _q: [],
    ) -> list[dict[str, Any]]:
        """Active callbacks (pending or in progress) in service order per queue, each with
        its virtual position among the queue's live callers and other callbacks."""
        query = select(R).where(R.status.in_(ACTIVE))
        if tenant_ids is not None:
            query = query.where(R.tenant_id.in_(list(tenant_ids)))
        if tenant is not None:
            query = query.where(R.tenant == tenant)
        if queue is not None:
            query = query.where(R.queue == queue)
        async with self._db.session() as session:
            rows = list((await session.execute(query)).scalars())
        by_queue: dict[str, list[CallbackRequest]] = {}
        for row in rows:
            by_queue.setdefault(row.queue, []).append(row)
        out: list[dict[str, Any]] = []
        for name, members in sorted(by_queue.items()):
            places = {f"cb-{r.id}": r for r in members}
            waiting = [
                Place(k, r.priority, (r.arrival_at or r.requested_at).timestamp(), callback=True)
                for k, r in places.items()
                if r.stage in (None, "queued")
            ]
            positions = virtual_positions(waiting, live(name))
            ordered = sorted(members, key=lambda r: positions.get(f"cb-{r.id}", 0) or 10**9)
            out += [view(r, positions.get(f"cb-{r.id}")) for r in ordered]
        return out

    async def get(self, request_id: int) -> tuple[dict[str, Any], int | None] | None:
        """One callback with every attempt; ``(view, tenant_id)``."""
        async with self._db.session() as session:
            row = await session.get(R, request_id)
            if row is None:
                return None
            attempts = (
                await session.execute(
                    select(CallbackAttempt)
                    .where(CallbackAttempt.request_id == request_id)
                    .order_by(CallbackAttempt.attempt)
                )
            ).scalars()
            body = view(row)
            body["attempt_log"] = [
                {
                    "attempt": a.attempt,
                    "agent": a.agent,
                    "started_at": a.started_at.isoformat(),
                    "answered_at": a.answered_at.isoformat() if a.answered_at else None,
                    "ended_at": a.ended_at.isoformat() if a.ended_at else None,
                    "outcome": a.outcome,
                    "cause": a.cause,
                }
                for a in attempts
            ]
            return body, row.tenant_id

    async def tenant_of(self, request_id: int) -> int | bool | None:
        """The request's tenant id; False when there is no such request."""
        async with self._db.session() as session:
            found = (await session.execute(select(R.tenant_id).where(R.id == request_id))).first()
            return False if found is None else found[0]

    async def change(
        self, request_id: int, now: datetime, *, requeue: bool, **values: Any
    ) -> Changed:
        """Apply ``values`` to an active request that is not being dialled. ``requeue``:
        a queued placeholder must be placed anew (priority, schedule, cancel)."""
        async with self._db.session() as session:
            row = (
                await session.execute(select(R).where(R.id == request_id).with_for_update())
            ).scalar_one_or_none()
            if row is None:
                raise KeyError(request_id)
            annotate_only = set(values) <= {"note"} and not requeue
            if row.status not in ACTIVE or (
                row.stage in ("ringing", "confirmed", "connected") and not annotate_only
            ):
                raise NotChangeable(request_id, row.status, row.stage)
            due = values.get("due_at")
            if due is not None and row.expires_at is not None and due >= row.expires_at:
                raise AfterExpiry(
                    f"at: {due.isoformat()} is not before the callback expires "
                    f"({row.expires_at.isoformat()})"
                )
            old_slot = None
            if requeue and row.stage in WAITING:
                old_slot = slot_ids(row.id, row.lease_token)[1]
                row.status, row.stage, row.lease_owner, row.lease_until = (
                    "pending",
                    None,
                    None,
                    None,
                )
                row.lease_token += 1  # the placeholder's token is stale from now on
            for key, value in values.items():
                setattr(row, key, value)
            if "assigned_to" in values:
                who = values["assigned_to"]
                row.assigned_until = (
                    now + timedelta(seconds=self._fallback(row.tenant)) if who else None
                )
            if values.get("status") == "cancelled":
                row.outcome, row.done_at, row.stage = "cancelled", now, None
            return Changed(row.id, row.tenant, row.tenant_id, old_slot)


def tenant_slugs(rows: Iterable[dict[str, Any]]) -> set[str]:
    return {str(r["tenant"]) for r in rows}
