"""Duplicate contacts of a tenant and their merge.

Two contacts of one tenant are duplicates when they share a normalised number or the
e-mail (:func:`duplicate_keys`); the API warns about them on create, the importer updates
instead of adding (:mod:`crm.importing`), and :func:`merge` folds one into the other with
the pure rule :func:`merged`. Sessions as in :mod:`crm.repository`: the caller decides the
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.contact import ContactData, ValidationError
from crm.models import CallLink, Contact, ContactNumber, Note
from crm.repository import contact_data, get_contact, update_contact


async def find_duplicates(
    session: AsyncSession, tenant_id: int | None, data: ContactData
) -> list[int]:
    """Ids of the tenant's contacts sharing a normalised number or the e-mail with ``data``.

    Scoped to exactly ``tenant_id`` (shared contacts are not duplicates of a tenant's).
    """
    index = await duplicate_index(session, tenant_id, [data])
    return sorted({cid for key in duplicate_keys(data) for cid in index.get(key, ())})


def duplicate_keys(data: ContactData) -> set[str]:
    """What makes two contacts of a tenant duplicates: a normalised number or the e-mail."""
    keys = {f"tel:{n.e164}" for n in data.numbers}
    if data.email:
        keys.add(f"mail:{data.email.lower()}")
    return keys


async def duplicate_index(
    session: AsyncSession, tenant_id: int | None, datas: Sequence[ContactData], chunk: int = 1000
) -> dict[str, list[int]]:
    """For many candidates at once (imports): duplicate key → ids of the tenant's contacts."""
    e164s = sorted({n.e164 for d in datas for n in d.numbers})
    emails = sorted({d.email.lower() for d in datas if d.email})
    index: dict[str, list[int]] = {}
    num_scope = (
        ContactNumber.tenant_id.is_(None)
        if tenant_id is None
        else ContactNumber.tenant_id == tenant_id
    )
    for i in range(0, len(e164s), chunk):
        rows = await session.execute(
            select(ContactNumber.e164, ContactNumber.contact_id).where(
                ContactNumber.e164.in_(e164s[i : i + chunk]), num_scope
            )
        )
        for e164, cid in rows:
            index.setdefault(f"tel:{e164}", []).append(cid)
    scope = Contact.tenant_id.is_(None) if tenant_id is None else Contact.tenant_id == tenant_id
    for i in range(0, len(emails), chunk):
        rows = await session.execute(
            select(Contact.email_norm, Contact.id).where(
                Contact.email_norm.in_(emails[i : i + chunk]), scope
            )
        )
        for email, cid in rows:
            index.setdefault(f"mail:{email}", []).append(cid)
    return index


def merged(keep: ContactData, other: ContactData) -> ContactData:
    """Pure merge rule: ``keep`` wins where it has a value; numbers, tags and notes unite."""
    numbers = list(keep.numbers)
    for n in other.numbers:
        if all(n.e164 != k.e164 for k in numbers):
            numbers.append(n)
    tags = list(keep.tags) + [t for t in other.tags if t not in keep.tags]
    notes = "\n\n".join(t for t in (keep.notes, other.notes) if t and t.strip())
    if keep.notes and other.notes and other.notes in keep.notes:
        notes = keep.notes

    def pick(a: str | None, b: str | None) -> str | None:
        return a if a else b

    return ContactData(
        display_name=keep.display_name,
        given_name=keep.given_name or other.given_name,
        family_name=keep.family_name or other.family_name,
        organisation=pick(keep.organisation, other.organisation),
        email=pick(keep.email, other.email),
        numbers=tuple(numbers),
        street=keep.street or other.street,
        postal_code=keep.postal_code or other.postal_code,
        city=keep.city or other.city,
        region=keep.region or other.region,
        country=keep.country or other.country,
        language=pick(keep.language, other.language),
        tags=tuple(tags),
        vip=keep.vip or other.vip,
        notes=notes,
        consent_basis=pick(keep.consent_basis, other.consent_basis),
        consent_at=keep.consent_at or other.consent_at,
        source=keep.source,
    )


async def merge(
    session: AsyncSession, keep_id: int, other_id: int, tenant_id: int | None
) -> Contact:
    """Fold contact ``other_id`` into ``keep_id``: fields, numbers, notes and call links move,
    ``other`` is deleted. Both must belong to the same scope (tenant or shared)."""
    if keep_id == other_id:
        raise ValidationError("other_id", "cannot merge a contact with itself")
    keep = await get_contact(session, keep_id, tenant_id)
    other = await get_contact(session, other_id, tenant_id)
    if keep.tenant_id != other.tenant_id:
        raise ValidationError("other_id", "contacts belong to different tenants")
    data = merged(await contact_data(session, keep), await contact_data(session, other))
    await session.execute(
        update(Note).where(Note.contact_id == other.id).values(contact_id=keep.id)
    )
    await session.execute(
        update(CallLink).where(CallLink.contact_id == other.id).values(contact_id=keep.id)
    )
    await session.delete(other)
    await session.flush()
    return await update_contact(session, keep, data)
