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

import json
import re
import secrets
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import String, cast, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Delete

from callcenter.audit import AuditEntry
from callcenter.db.models import Call, CallEvent, Tenant, utcnow
from callcenter.phone.numbers import mask_numbers, number_forms
from callcenter.records.models import QueueLogRow
from crm import repository as repo
from crm.contact import contact_to_mapping
from crm.models import CallLink, Erasure, Note, WebhookDelivery
from crm.notes import note_payload
from crm.timeline import call_view, contact_calls
from jobs.models import Job

QUEUE_LOG_MARKERS = ("CC_START", "CC_END")  # their data1 is the call's linkedid


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


@dataclass(slots=True)
class Traces:
    """What an erasure looks for outside the rows it deletes."""

    tenant_id: int | None
    contact_id: int
    numbers: tuple[str, ...]  # E.164
    forms: tuple[str, ...]  # every way the numbers were written (longest first)
    linkedids: tuple[str, ...]  # the contact's calls
    pseudonym: str
    recordings: list[str] = field(default_factory=list)  # PBX recordings to delete

    def mask(self, text: str) -> str:
        """``text`` with every form replaced by ``x`` of the same length (files keep their
        byte offsets); only whole numbers (no digit right before or after) are masked."""
        return mask_numbers(text, self.forms)


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
            for r in await _queue_log_rows(session, linkedids)
        ],
        "webhook_deliveries": [
            {"id": d.id, "event": d.event, "created_at": d.created_at.isoformat(), "body": d.body}
            for d in await session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.tenant_id == tenant_id,
                    _delivery_mentions(contact_id, forms, linkedids),
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


def _personal(key: str) -> bool:
    """Keys that point at the person: the live state's ``contact`` id and ``contact_name``,
    ``contact_id``, the screen pop's ``crm…``."""
    return key.startswith(("crm", "contact"))


_NAME_KEYS = {"caller_name", "caller_raw", "calleridname"}


def _scrub(value: Any, forms: Sequence[str], pseudonym: str) -> Any:
    """A JSON value without the person: contact keys dropped, caller names nulled, every
    number form replaced by the pseudonym."""
    if isinstance(value, dict):
        return {
            k: (None if k in _NAME_KEYS else _scrub(v, forms, pseudonym))
            for k, v in value.items()
            if not _personal(str(k))
        }
    if isinstance(value, list):
        return [_scrub(v, forms, pseudonym) for v in value]
    if isinstance(value, str):
        for form in forms:
            if form in value:
                value = re.sub(r"(?<!\d)" + re.escape(form) + r"(?!\d)", pseudonym, value)
        return value
    return value


def _replace_numbers(value: Any, forms: Sequence[str], pseudonym: str) -> Any:
    """Only the numbers replaced (for rows that are not about the person as such)."""
    text = json.dumps(value, ensure_ascii=False)
    for form in forms:
        text = re.sub(r"(?<!\d)" + re.escape(form) + r"(?!\d)", pseudonym, text)
    return json.loads(text)


async def _rowcount(session: AsyncSession, stmt: Delete) -> int:
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def _queue_log_rows(session: AsyncSession, linkedids: Sequence[str]) -> list[QueueLogRow]:
    """The queue_log lines of the calls: their inbound channels' callids (``CC_START`` and
    ``CC_END`` name the linkedid) and the linkedids themselves."""
    if not linkedids:
        return []
    callids = select(QueueLogRow.callid).where(
        QueueLogRow.event.in_(QUEUE_LOG_MARKERS), QueueLogRow.data1.in_(linkedids)
    )
    rows = await session.scalars(
        select(QueueLogRow)
        .where(or_(QueueLogRow.callid.in_(callids), QueueLogRow.callid.in_(linkedids)))
        .order_by(QueueLogRow.time, QueueLogRow.id)
    )
    return list(rows)


def _delivery_mentions(contact_id: int, forms: Sequence[str], linkedids: Sequence[str]) -> Any:
    clauses = [WebhookDelivery.body.contains(f) for f in forms]
    clauses += [WebhookDelivery.body.contains(f'"{lid}"') for lid in linkedids]
    for key in ("contact_id", "contact"):
        for end in (",", "}"):
            clauses.append(WebhookDelivery.body.contains(f'"{key}":{contact_id}{end}'))
    return or_(*clauses)


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
    for call in calls:
        call.caller = pseudonym
        call.caller_raw = None
        call.caller_name = None
        call.extra = {k: v for k, v in (call.extra or {}).items() if not _personal(k)}
    linkedids = tuple(c.linkedid for c in calls)
    traces = Traces(tenant_id, contact_id, tuple(e164s), forms, linkedids, pseudonym)

    slug = (
        None
        if tenant_id is None
        else await session.scalar(select(Tenant.slug).where(Tenant.id == tenant_id))
    )
    if e164s:  # other legs that name the number (a callback's customer leg: did, channel)
        legs = select(Call).where(Call.did.in_(e164s))
        if tenant_id is not None:
            legs = legs.where(Call.tenant_id == tenant_id)
        for leg in await session.scalars(legs):
            leg.did = pseudonym
            linkedids += (leg.linkedid,)
        traces.linkedids = linkedids

    events = 0
    event_text = cast(CallEvent.data, String)
    mentions = [event_text.contains(f) for f in forms]
    if linkedids:
        mentions.append(CallEvent.linkedid.in_(linkedids))
    if mentions:
        found = list(await session.scalars(select(CallEvent).where(or_(*mentions))))
        strays = {e.linkedid for e in found} - set(linkedids)
        mine = set()  # strays that are this tenant's calls
        if strays and tenant_id is not None:
            mine = set(
                await session.scalars(
                    select(Call.linkedid).where(
                        Call.linkedid.in_(strays), Call.tenant_id == tenant_id
                    )
                )
            )
        for ev in found:
            ours = (
                tenant_id is None
                or ev.linkedid in linkedids
                or ev.linkedid in mine
                or (ev.data or {}).get("tenant") == slug
            )
            if not ours:
                continue  # the same person's calls to another tenant are not this erasure's
            scrubbed = _scrub(ev.data, forms, pseudonym)
            if scrubbed != ev.data:
                ev.data, events = scrubbed, events + 1
    queue_log = 0
    for row in await _queue_log_rows(session, linkedids):
        changed = False
        for name in ("data1", "data2", "data3", "data4", "data5"):
            masked = traces.mask(getattr(row, name) or "")
            if masked != getattr(row, name):
                setattr(row, name, masked)
                changed = True
        queue_log += changed

    note_filter = [Note.contact_id == contact_id]
    if e164s:
        by_number = Note.caller_e164.in_(e164s)
        note_filter.append(
            by_number if tenant_id is None else (Note.tenant_id == tenant_id) & by_number
        )
    notes = await _rowcount(session, delete(Note).where(or_(*note_filter)))

    stmt = delete(WebhookDelivery).where(_delivery_mentions(contact_id, forms, linkedids))
    if tenant_id is not None:
        stmt = stmt.where(WebhookDelivery.tenant_id == tenant_id)
    hooks = await _rowcount(session, stmt)

    jobs = audits = 0
    if forms:
        job_text = cast(Job.payload, String) + func.coalesce(Job.last_error, "")
        for job in await session.scalars(
            select(Job).where(or_(*(job_text.contains(f) for f in forms)))
        ):
            job.payload = _replace_numbers(job.payload, forms, pseudonym)
            if job.last_error:
                job.last_error = traces.mask(job.last_error)
            jobs += 1
        audit_text = AuditEntry.target + cast(AuditEntry.detail, String)
        audit_rows = select(AuditEntry).where(or_(*(audit_text.contains(f) for f in forms)))
        if tenant_id is not None:
            audit_rows = audit_rows.where(
                or_(AuditEntry.tenant_id == tenant_id, AuditEntry.tenant_id.is_(None))
            )
        for entry in await session.scalars(audit_rows):
            entry.target = traces.mask(entry.target)
            entry.detail = _replace_numbers(entry.detail, forms, pseudonym)
            audits += 1

    links = await _rowcount(session, delete(CallLink).where(CallLink.contact_id == contact_id))
    stored: dict[str, int] = {}
    token = _current.set(traces)
    try:
        for store in _stores:
            stored.update(await store.erase(session, tenant_id, contact_id, e164s))
        for store in sorted(_stores, key=lambda st: getattr(st, "phase", 0)):
            erase_traces = getattr(store, "erase_traces", None)
            if erase_traces is not None:
                stored.update(await erase_traces(session, traces))
    finally:
        _current.reset(token)
    await session.delete(contact)
    counts = {
        "calls_pseudonymised": len(calls),
        "call_events_scrubbed": events,
        "queue_log_lines_masked": queue_log,
        "notes_deleted": notes,
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


async def call_count(session: AsyncSession, tenant_id: int) -> int:
    """Calls of the tenant (what statistics still count after an erasure)."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Call).where(Call.tenant_id == tenant_id)
        )
        or 0
    )
