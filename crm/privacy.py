"""GDPR: export everything stored about a contact; erase it leaving anonymous statistics.

Erasure, in one transaction:

* the contact, its numbers and call links are deleted;
* telephone notes linked to it, or taken from one of its numbers for this tenant, are deleted;
* the tenant's calls from its numbers keep their row (controlling still counts them) but the
  caller number becomes a random pseudonym shared by those calls only (``x-erased-…``;
  repeat-caller statistics stay right, nobody can map it back), caller name and raw caller id
  are cleared and the contact keys (``contact_id``, ``crm…``) removed from ``extra``;
  their ``call_events`` have the numbers replaced the same way;
* webhook deliveries whose body mentions one of the numbers are deleted;
* a ``crm_erasures`` row records what was done (counts only, no personal data).

* every other store registered with :func:`register_store` (voicemail messages, their
  audio and transcripts …) exports and erases what it holds about the contact in the same
  transaction, adding its own counts.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Delete

from callcenter.db.models import Call, CallEvent, utcnow
from crm import repository as repo
from crm.contact import contact_to_mapping
from crm.models import CallLink, Erasure, Note, WebhookDelivery
from crm.notes import note_payload
from crm.timeline import call_view, contact_calls


class PersonalStore(Protocol):
    """A feature's data about contacts, part of the export and the erasure. ``numbers``
    are the contact's E.164 numbers; ``tenant_id`` ``None`` means every tenant (a shared
    contact's erasure)."""

    name: str  # the export's key

    async def export(
        self, session: AsyncSession, tenant_id: int, contact_id: int, numbers: Sequence[str]
    ) -> list[dict[str, Any]]: ...

    async def erase(
        self,
        session: AsyncSession,
        tenant_id: int | None,
        contact_id: int,
        numbers: Sequence[str],
    ) -> dict[str, int]: ...


_stores: list[PersonalStore] = []


def register_store(store: PersonalStore) -> None:
    """Add a feature's store (its wiring calls this); registering twice is a no-op."""
    if all(s.name != store.name for s in _stores):
        _stores.append(store)


async def export_contact(session: AsyncSession, tenant_id: int, contact_id: int) -> dict[str, Any]:
    """Everything stored about the contact, as seen by ``tenant_id`` (JSON-ready)."""
    contact = await repo.get_contact(session, contact_id, tenant_id)
    data = contact_to_mapping(await repo.contact_data(session, contact))
    notes = await session.scalars(
        select(Note)
        .where(Note.contact_id == contact_id, Note.tenant_id == tenant_id)  # not B's notes
        .order_by(Note.taken_at)
    )
    calls = await contact_calls(session, tenant_id, contact_id, limit=100_000)
    e164s = sorted({n.e164 for n in await repo.numbers_of(session, contact_id)})
    others = {st.name: await st.export(session, tenant_id, contact_id, e164s) for st in _stores}
    return {
        "exported_at": utcnow().isoformat(),
        "contact": {
            "id": contact.id,
            "tenant_id": contact.tenant_id,
            "organisation_id": contact.organisation_id,
            "created_at": contact.created_at.isoformat(),
            "updated_at": contact.updated_at.isoformat(),
            **data,
        },
        "notes": [note_payload(n) for n in notes],
        "calls": [call_view(c, link) for c, link in calls],
        **others,
    }


def _personal(key: str) -> bool:
    """Keys of ``calls.extra`` that point at the person (the live state's ``contact_id``)."""
    return key == "contact_id" or key.startswith(("crm", "contact"))


async def _rowcount(session: AsyncSession, stmt: Delete) -> int:
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


def _scrub(value: Any, needles: Iterable[str], pseudonym: str) -> Any:
    """Replace every occurrence of the numbers in a JSON value."""
    text = json.dumps(value, ensure_ascii=False)
    for n in needles:
        if n:
            text = text.replace(n, pseudonym)
    return json.loads(text)


async def erase_contact(
    session: AsyncSession, tenant_id: int | None, contact_id: int, *, erased_by: int | None = None
) -> dict[str, int]:
    """Erase the contact as described in the module doc; returns the counts.

    ``tenant_id`` ``None`` erases a shared contact of the secretariat, across every tenant's
    calls and notes (staff only)."""
    contact = await repo.get_contact(session, contact_id, tenant_id)
    numbers = await repo.numbers_of(session, contact_id)
    e164s = sorted({n.e164 for n in numbers})
    raws = sorted({n.raw for n in numbers} | set(e164s))
    pseudonym = "x-erased-" + secrets.token_hex(8)

    calls = [c for c, _ in await contact_calls(session, tenant_id, contact_id, limit=10_000_000)]
    for call in calls:
        call.caller = pseudonym
        call.caller_raw = None
        call.caller_name = None
        call.extra = {k: v for k, v in (call.extra or {}).items() if not _personal(k)}
    linkedids = [c.linkedid for c in calls]
    events = 0
    if linkedids:
        for ev in await session.scalars(select(CallEvent).where(CallEvent.linkedid.in_(linkedids))):
            scrubbed = _scrub(ev.data, raws, pseudonym)
            if scrubbed != ev.data:
                ev.data, events = scrubbed, events + 1

    note_filter = [Note.contact_id == contact_id]
    if e164s:
        by_number = Note.caller_e164.in_(e164s)
        note_filter.append(
            by_number if tenant_id is None else (Note.tenant_id == tenant_id) & by_number
        )
    notes = await _rowcount(session, delete(Note).where(or_(*note_filter)))

    hooks = 0
    if e164s:
        stmt = delete(WebhookDelivery).where(
            or_(*(WebhookDelivery.body.contains(n) for n in e164s))
        )
        if tenant_id is not None:
            stmt = stmt.where(WebhookDelivery.tenant_id == tenant_id)
        hooks = await _rowcount(session, stmt)
    links = await _rowcount(session, delete(CallLink).where(CallLink.contact_id == contact_id))
    stored: dict[str, int] = {}
    for store in _stores:
        stored.update(await store.erase(session, tenant_id, contact_id, e164s))
    await session.delete(contact)
    counts = {
        "calls_pseudonymised": len(calls),
        "call_events_scrubbed": events,
        "notes_deleted": notes,
        "call_links_deleted": links,
        "numbers_deleted": len(numbers),
        "webhook_deliveries_deleted": hooks,
        **stored,
    }
    session.add(
        Erasure(tenant_id=tenant_id, contact_id=contact_id, erased_by=erased_by, counts=counts)
    )
    await session.flush()
    return counts


async def call_count(session: AsyncSession, tenant_id: int) -> int:
    """Calls of the tenant (what statistics still count after an erasure)."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Call).where(Call.tenant_id == tenant_id)
        )
        or 0
    )
