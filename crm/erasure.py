"""The steps of a contact's erasure (:func:`crm.privacy.erase_contact` runs them in order).

Each step takes the :class:`Traces` of the erasure (every form of the numbers, the calls'
linkedids, the pseudonym), changes the rows of one store in the caller's transaction and
returns how many it changed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Delete

from callcenter.audit import AuditEntry
from callcenter.db.models import Call, CallEvent, Tenant
from callcenter.phone.numbers import mask_numbers
from callcenter.records.models import QueueLogRow
from crm.models import Note, WebhookDelivery
from jobs.models import Job

QUEUE_LOG_MARKERS = ("CC_START", "CC_END")  # their data1 is the call's linkedid


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


def pseudonymise(calls: Sequence[Call], pseudonym: str) -> None:
    """The calls keep their rows; the caller becomes the pseudonym, names and contact keys go."""
    for call in calls:
        call.caller = pseudonym
        call.caller_raw = None
        call.caller_name = None
        call.extra = {k: v for k, v in (call.extra or {}).items() if not _personal(k)}


async def pseudonymise_other_legs(session: AsyncSession, traces: Traces) -> None:
    """Other legs that name the number (a callback's customer leg: did, channel)."""
    if not traces.numbers:
        return
    legs = select(Call).where(Call.did.in_(traces.numbers))
    if traces.tenant_id is not None:
        legs = legs.where(Call.tenant_id == traces.tenant_id)
    linkedids = traces.linkedids
    for leg in await session.scalars(legs):
        leg.did = traces.pseudonym
        linkedids += (leg.linkedid,)
    traces.linkedids = linkedids


async def scrub_call_events(session: AsyncSession, traces: Traces) -> int:
    """Call events of this tenant's calls that mention the person, scrubbed."""
    tenant_id, forms, linkedids = traces.tenant_id, traces.forms, traces.linkedids
    event_text = cast(CallEvent.data, String)
    mentions = [event_text.contains(f) for f in forms]
    if linkedids:
        mentions.append(CallEvent.linkedid.in_(linkedids))
    if not mentions:
        return 0
    slug = (
        None
        if tenant_id is None
        else await session.scalar(select(Tenant.slug).where(Tenant.id == tenant_id))
    )
    found = list(await session.scalars(select(CallEvent).where(or_(*mentions))))
    strays = {e.linkedid for e in found} - set(linkedids)
    mine = set()  # strays that are this tenant's calls
    if strays and tenant_id is not None:
        mine = set(
            await session.scalars(
                select(Call.linkedid).where(Call.linkedid.in_(strays), Call.tenant_id == tenant_id)
            )
        )
    events = 0
    for ev in found:
        ours = (
            tenant_id is None
            or ev.linkedid in linkedids
            or ev.linkedid in mine
            or (ev.data or {}).get("tenant") == slug
        )
        if not ours:
            continue  # the same person's calls to another tenant are not this erasure's
        scrubbed = _scrub(ev.data, forms, traces.pseudonym)
        if scrubbed != ev.data:
            ev.data, events = scrubbed, events + 1
    return events


async def mask_queue_log(session: AsyncSession, traces: Traces) -> int:
    """The calls' ``pbx_queue_log`` lines, numbers masked at the same length."""
    masked_rows = 0
    for row in await queue_log_rows(session, traces.linkedids):
        changed = False
        for name in ("data1", "data2", "data3", "data4", "data5"):
            masked = traces.mask(getattr(row, name) or "")
            if masked != getattr(row, name):
                setattr(row, name, masked)
                changed = True
        masked_rows += changed
    return masked_rows


async def delete_notes(session: AsyncSession, traces: Traces) -> int:
    """Notes linked to the contact, or taken from one of its numbers for this tenant."""
    note_filter = [Note.contact_id == traces.contact_id]
    if traces.numbers:
        by_number = Note.caller_e164.in_(traces.numbers)
        note_filter.append(
            by_number
            if traces.tenant_id is None
            else (Note.tenant_id == traces.tenant_id) & by_number
        )
    return await rowcount(session, delete(Note).where(or_(*note_filter)))


async def delete_deliveries(session: AsyncSession, traces: Traces) -> int:
    """Webhook deliveries naming the contact, one of its numbers or one of its calls."""
    mentions = delivery_mentions(traces.contact_id, traces.forms, traces.linkedids)
    stmt = delete(WebhookDelivery).where(mentions)
    if traces.tenant_id is not None:
        stmt = stmt.where(WebhookDelivery.tenant_id == traces.tenant_id)
    return await rowcount(session, stmt)


async def scrub_jobs(session: AsyncSession, traces: Traces) -> int:
    """Job payloads and errors: the numbers replaced by the pseudonym."""
    forms = traces.forms
    if not forms:
        return 0
    jobs = 0
    job_text = cast(Job.payload, String) + func.coalesce(Job.last_error, "")
    for job in await session.scalars(
        select(Job).where(or_(*(job_text.contains(f) for f in forms)))
    ):
        job.payload = _replace_numbers(job.payload, forms, traces.pseudonym)
        if job.last_error:
            job.last_error = traces.mask(job.last_error)
        jobs += 1
    return jobs


async def scrub_audit(session: AsyncSession, traces: Traces) -> int:
    """Audit entries (this tenant's and global ones): the numbers replaced."""
    forms = traces.forms
    if not forms:
        return 0
    audits = 0
    audit_text = AuditEntry.target + cast(AuditEntry.detail, String)
    audit_rows = select(AuditEntry).where(or_(*(audit_text.contains(f) for f in forms)))
    if traces.tenant_id is not None:
        audit_rows = audit_rows.where(
            or_(AuditEntry.tenant_id == traces.tenant_id, AuditEntry.tenant_id.is_(None))
        )
    for entry in await session.scalars(audit_rows):
        entry.target = traces.mask(entry.target)
        entry.detail = _replace_numbers(entry.detail, forms, traces.pseudonym)
        audits += 1
    return audits


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


async def rowcount(session: AsyncSession, stmt: Delete) -> int:
    """Rows a DELETE removed."""
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def queue_log_rows(session: AsyncSession, linkedids: Sequence[str]) -> list[QueueLogRow]:
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


def delivery_mentions(contact_id: int, forms: Sequence[str], linkedids: Sequence[str]) -> Any:
    clauses = [WebhookDelivery.body.contains(f) for f in forms]
    clauses += [WebhookDelivery.body.contains(f'"{lid}"') for lid in linkedids]
    for key in ("contact_id", "contact"):
        for end in (",", "}"):
            clauses.append(WebhookDelivery.body.contains(f'"{key}":{contact_id}{end}'))
    return or_(*clauses)
