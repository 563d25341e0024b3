"""GDPR: export everything stored about a contact; erase it leaving anonymous statistics.

Erasure, in one transaction:

* the contact, its numbers and call links are deleted;
* telephone notes linked to it, or taken from one of its numbers for this tenant, are deleted;
* the tenant's calls from its numbers keep their row (controlling still counts them) but the
  caller number becomes a random pseudonym shared by those calls only (``x-erased-…``;
  repeat-caller statistics stay right, nobody can map it back), caller name and raw caller id
  are cleared and the contact keys (``contact_id``, ``contact…``, ``crm…``) removed from
  ``extra``;
* their ``call_events``: the contact keys (``"contact": 37``, ``contact_name`` …) and the
  caller name are removed, every form of the numbers (:func:`number_forms`, and the raw
  caller ids the calls arrived with) replaced by the pseudonym;
* their ``pbx_queue_log`` lines (the Asterisk queue_log mirror): every form of the numbers
  masked with ``x`` of the same length (as in the file itself, :mod:`callcenter.records.privacy`);
* webhook deliveries whose body mentions one of the numbers, the contact's id or one of the
  calls are deleted (their attempts with them);
* job payloads and errors, and audit entries, mentioning one of the numbers: the numbers
  are replaced by the pseudonym;
* a ``crm_erasures`` row records what was done (counts only, no personal data).

* every other store registered with :func:`register_store` (voicemail messages, their
  audio and transcripts, the callback list, the PBX's files …) exports and erases what it
  holds about the contact in the same transaction, adding its own counts. A store may
  also define ``erase_traces(session, traces)``: called after every store's ``erase`` (in
  the order of its ``phase``, default 0) with the :class:`Traces` of the erasure (every
  number form, the calls' linkedids, recordings named by the stores through
  :func:`current_traces`), for stores that hold traces rather than rows (files, logs).

The test ``tests/integration/test_privacy_everywhere.py`` seeds every store, erases, and
greps a ``pg_dump`` of the database, the PBX's files and Redis for the contact.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from typing import Any, Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.db.models import Call, CallEvent, utcnow
from callcenter.phone.numbers import number_forms
from crm import erasure
from crm import repository as repo
from crm.contact import contact_to_mapping
from crm.erasure import Traces

__all__ = [
    "PersonalStore",
    "Traces",
    "current_traces",
    "erase_contact",
    "export_contact",
    "register_store",
]
from crm.models import CallLink, Erasure, Note, WebhookDelivery
from crm.notes import note_payload
from crm.timeline import call_view, contact_calls


class PersonalStore(Protocol):
    """A feature's data about contacts, part of the export and the erasure. ``numbers``
    are the contact's E.164 numbers; ``tenant_id`` ``None`` means every tenant (a shared
    contact's erasure). A store may also define ``erase_traces`` (see the module doc)."""

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
_current: ContextVar[Traces | None] = ContextVar("crm_privacy_traces", default=None)


def current_traces() -> Traces | None:
    """The :class:`Traces` of the erasure running in this task (for a store's ``erase``
    that names what others must remove, e.g. the PBX recordings of erased messages)."""
    return _current.get()


def register_store(store: PersonalStore) -> None:
    """Add a feature's store (its wiring calls this); a store of the same name is replaced
    (the app wired last wins, e.g. another PBX instance's files in a test process)."""
    for i, known in enumerate(_stores):
        if known.name == store.name:
            _stores[i] = store
            return
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
    numbers = await repo.numbers_of(session, contact_id)
    e164s = sorted({n.e164 for n in numbers})
    linkedids = [c.linkedid for c, _ in calls]
    forms = _forms(e164s, [n.raw for n in numbers] + [c.caller_raw or "" for c, _ in calls])
    others = {st.name: await st.export(session, tenant_id, contact_id, e164s) for st in _stores}
    events: list[CallEvent] = (
        list(
            await session.scalars(
                select(CallEvent)
                .where(CallEvent.linkedid.in_(linkedids))
                .order_by(CallEvent.at, CallEvent.id)
            )
        )
        if linkedids
        else []
    )
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
        "call_events": [
            {"linkedid": e.linkedid, "at": e.at.isoformat(), "type": e.type, "data": e.data}
            for e in events
        ],
        "queue_log": [
            {
                "time": r.time.isoformat(),
                "callid": r.callid,
                "queue": r.queuename,
                "agent": r.agent,
                "event": r.event,
                "data": [r.data1, r.data2, r.data3, r.data4, r.data5],
            }
            for r in await erasure.queue_log_rows(session, linkedids)
        ],
        "webhook_deliveries": [
            {"id": d.id, "event": d.event, "created_at": d.created_at.isoformat(), "body": d.body}
            for d in await session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.tenant_id == tenant_id,
                    erasure.delivery_mentions(contact_id, forms, linkedids),
                )
                .order_by(WebhookDelivery.id)
            )
        ],
        **others,
    }


def _forms(e164s: Sequence[str], raws: Iterable[str]) -> tuple[str, ...]:
    raw_list = [r for r in raws if r]
    found: set[str] = set()
    for e164 in e164s:
        found |= set(number_forms(e164, raw_list))
    if not e164s:
        found |= {f for r in raw_list for f in number_forms(r)}
    return tuple(sorted(found, key=lambda f: (-len(f), f)))


async def erase_contact(
    session: AsyncSession, tenant_id: int | None, contact_id: int, *, erased_by: int | None = None
) -> dict[str, int]:
    """Erase the contact as described in the module doc; returns the counts.

    ``tenant_id`` ``None`` erases a shared contact of the secretariat, across every tenant's
    calls and notes (staff only)."""
    contact = await repo.get_contact(session, contact_id, tenant_id)
    numbers = await repo.numbers_of(session, contact_id)
    e164s = sorted({n.e164 for n in numbers})
    pseudonym = "x-erased-" + secrets.token_hex(8)

    calls = [c for c, _ in await contact_calls(session, tenant_id, contact_id, limit=10_000_000)]
    forms = _forms(e164s, [n.raw for n in numbers] + [c.caller_raw or "" for c in calls])
    erasure.pseudonymise(calls, pseudonym)
    linkedids = tuple(c.linkedid for c in calls)
    traces = Traces(tenant_id, contact_id, tuple(e164s), forms, linkedids, pseudonym)
    await erasure.pseudonymise_other_legs(session, traces)
    counts = {
        "calls_pseudonymised": len(calls),
        "call_events_scrubbed": await erasure.scrub_call_events(session, traces),
        "queue_log_lines_masked": await erasure.mask_queue_log(session, traces),
        "notes_deleted": await erasure.delete_notes(session, traces),
    }
    hooks = await erasure.delete_deliveries(session, traces)
    jobs = await erasure.scrub_jobs(session, traces)
    audits = await erasure.scrub_audit(session, traces)
    links = await erasure.rowcount(
        session, delete(CallLink).where(CallLink.contact_id == contact_id)
    )
    stored = await _erase_in_stores(session, traces, e164s)
    await session.delete(contact)
    counts |= {
        "call_links_deleted": links,
        "numbers_deleted": len(numbers),
        "webhook_deliveries_deleted": hooks,
        "jobs_scrubbed": jobs,
        "audit_entries_scrubbed": audits,
        **stored,
    }
    session.add(
        Erasure(tenant_id=tenant_id, contact_id=contact_id, erased_by=erased_by, counts=counts)
    )
    await session.flush()
    return counts


async def _erase_in_stores(
    session: AsyncSession, traces: Traces, e164s: Sequence[str]
) -> dict[str, int]:
    """Every registered store's ``erase``, then the trace erasers by ``phase``."""
    stored: dict[str, int] = {}
    token = _current.set(traces)
    try:
        for store in _stores:
            stored.update(await store.erase(session, traces.tenant_id, traces.contact_id, e164s))
        for store in sorted(_stores, key=lambda st: getattr(st, "phase", 0)):
            erase_traces = getattr(store, "erase_traces", None)
            if erase_traces is not None:
                stored.update(await erase_traces(session, traces))
    finally:
        _current.reset(token)
    return stored


async def call_count(session: AsyncSession, tenant_id: int) -> int:
    """Calls of the tenant (what statistics still count after an erasure)."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Call).where(Call.tenant_id == tenant_id)
        )
        or 0
    )
