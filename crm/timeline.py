"""A contact's history: calls and telephone notes, newest first; linking calls to contacts.

Which calls belong to a contact, seen from one tenant:

* calls with a row in ``crm_call_links`` pointing at the contact (set by the lookup when the
  call rang, or by a receptionist who re-linked it), and
* calls without any link row whose caller E.164 is one of the contact's numbers.

A link row always wins, so re-linking a call moves it off every other contact's timeline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import Call, utcnow
from crm import repository as repo
from crm.contact import ContactData
from crm.models import CallLink, ContactNumber, Note
from crm.notes import note_payload


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    kind: Literal["call", "note", "voicemail"]
    at: datetime
    id: int
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at.isoformat(), "id": self.id, "data": self.data}


# Other features' entries on the timeline (voicemail messages …): (session, tenant id,
# contact id, limit) -> entries. Registered by the feature's wiring.
TimelineSource = Callable[[AsyncSession, int, int, int], Awaitable[list[TimelineEntry]]]
_sources: list[TimelineSource] = []


def register_source(source: TimelineSource) -> None:
    if source not in _sources:
        _sources.append(source)


def call_view(call: Call, link: CallLink | None = None) -> dict[str, Any]:
    return {
        "id": call.id,
        "linkedid": call.linkedid,
        "did": call.did,
        "caller": call.caller,
        "caller_name": call.caller_name,
        "queue": call.queue,
        "agent": call.agent,
        "outcome": call.outcome,
        "entered_at": call.entered_at.isoformat(),
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "ended_at": call.ended_at.isoformat(),
        "wait_seconds": call.wait_seconds,
        "talk_seconds": call.talk_seconds,
        "link": None if link is None else {"method": link.method, "linked_by": link.linked_by},
    }


async def contact_calls(
    session: AsyncSession, tenant_id: int | None, contact_id: int, limit: int = 100
) -> list[tuple[Call, CallLink | None]]:
    """The tenant's calls that belong to the contact (see the module doc), newest first.

    ``tenant_id`` ``None``: the calls of every tenant (for shared contacts, staff only)."""
    numbers = select(ContactNumber.e164).where(ContactNumber.contact_id == contact_id)
    rows = await session.execute(
        select(Call, CallLink)
        .outerjoin(CallLink, CallLink.call_id == Call.id)
        .where(
            Call.tenant_id.is_not(None) if tenant_id is None else Call.tenant_id == tenant_id,
            or_(
                CallLink.contact_id == contact_id,
                and_(CallLink.call_id.is_(None), Call.caller.in_(numbers)),
            ),
        )
        .order_by(Call.entered_at.desc(), Call.id.desc())
        .limit(limit)
    )
    return [(c, link) for c, link in rows.all()]


async def timeline(
    session: AsyncSession, tenant_id: int, contact_id: int, limit: int = 100
) -> list[TimelineEntry]:
    """Calls and notes of a contact visible to ``tenant_id``, newest first."""
    await repo.get_contact(session, contact_id, tenant_id)  # NotFound if not visible
    entries = [
        TimelineEntry("call", call.entered_at, call.id, call_view(call, link))
        for call, link in await contact_calls(session, tenant_id, contact_id, limit)
    ]
    note_rows = await session.scalars(
        select(Note)
        .where(Note.contact_id == contact_id, Note.tenant_id == tenant_id)
        .order_by(Note.taken_at.desc())
        .limit(limit)
    )
    entries += [TimelineEntry("note", n.taken_at, n.id, note_payload(n)) for n in note_rows]
    for source in _sources:
        entries += await source(session, tenant_id, contact_id, limit)
    entries.sort(key=lambda e: (e.at, e.kind == "note", e.id), reverse=True)
    return entries[:limit]


async def _call_of_tenant(session: AsyncSession, tenant_id: int, call_id: int) -> Call:
    call = await session.scalar(select(Call).where(Call.id == call_id, Call.tenant_id == tenant_id))
    if call is None:
        raise repo.NotFound(f"call {call_id} not found")
    return call


async def link_call(
    session: AsyncSession,
    tenant_id: int,
    call_id: int,
    contact_id: int,
    *,
    method: Literal["auto", "manual"] = "manual",
    user_id: int | None = None,
) -> CallLink:
    """Attach the tenant's call to a contact visible to the tenant (replacing any link)."""
    await _call_of_tenant(session, tenant_id, call_id)
    await repo.get_contact(session, contact_id, tenant_id)
    link = await session.get(CallLink, call_id)
    if link is None:
        link = CallLink(call_id=call_id)
        session.add(link)
    link.contact_id, link.method, link.linked_by, link.linked_at = (
        contact_id,
        method,
        user_id,
        utcnow(),
    )
    await session.flush()
    return link


async def link_call_to_new_contact(
    session: AsyncSession,
    tenant_id: int,
    call_id: int,
    data: ContactData,
    *,
    user_id: int | None = None,
) -> int:
    """Create a contact from ``data`` (typically with the call's number) and link the call."""
    await _call_of_tenant(session, tenant_id, call_id)
    contact = await repo.create_contact(session, tenant_id, data)
    await link_call(session, tenant_id, call_id, contact.id, user_id=user_id)
    return contact.id
