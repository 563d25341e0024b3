"""Contacts and organisations in the database: create, read, update, search.

Functions take an :class:`AsyncSession` so that a caller (HTTP handler, importer) decides the
transaction: everything done in one ``Database.session()`` block commits or rolls back
together. Tenant scoping is explicit: ``tenant_id`` ``None`` means the shared records. Duplicates
and merging are in :mod:`crm.duplicates`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import cast, delete, exists, func, literal, or_, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from callcenter.db.models import Tenant, utcnow
from callcenter.phone.numbers import DEFAULT_REGION, NumberError, normalise, normalise_prefix
from callcenter.phone.numbers import switchboard_prefix as din_prefix
from crm.contact import ContactData, NumberEntry, ValidationError
from crm.models import Contact, ContactNumber, Organisation


class NotFound(LookupError):
    """The record does not exist or is not visible in this scope."""


async def tenant_region(session: AsyncSession, tenant_id: int | None) -> str:
    """The default phone region of a tenant (``"DE"`` for shared records or unknown tenants)."""
    if tenant_id is None:
        return DEFAULT_REGION
    region = await session.scalar(select(Tenant.region).where(Tenant.id == tenant_id))
    return (region or DEFAULT_REGION).upper()


async def tenant_by_slug(session: AsyncSession, slug: str) -> tuple[int, str] | None:
    """``(id, default phone region)`` of the tenant named ``slug`` in call events, if any."""
    row = (
        await session.execute(select(Tenant.id, Tenant.region).where(Tenant.slug == slug))
    ).first()
    return None if row is None else (row[0], (row[1] or DEFAULT_REGION).upper())


# ---------------------------------------------------------------- organisations


@dataclass(frozen=True, slots=True)
class OrganisationData:
    name: str
    switchboard: str | None = None
    number_prefix: str | None = None
    website: str | None = None
    notes: str = ""


def _org_numbers(data: OrganisationData, region: str) -> tuple[str | None, str | None]:
    """(switchboard E.164, direct-dial prefix) from what the user entered.

    The prefix is the explicit ``number_prefix`` if given, else derived from a switchboard
    written as ``030 12345-0`` (see :func:`callcenter.phone.numbers.switchboard_prefix`).
    """
    sb = prefix = None
    try:
        if data.switchboard:
            sb = normalise(data.switchboard, region)
            prefix = din_prefix(data.switchboard, region)
    except NumberError as exc:
        raise ValidationError("switchboard", exc.reason) from exc
    if data.number_prefix:
        try:
            prefix = normalise_prefix(data.number_prefix, region)
        except NumberError as exc:
            raise ValidationError("number_prefix", exc.reason) from exc
    return sb, prefix


async def create_organisation(
    session: AsyncSession, tenant_id: int | None, data: OrganisationData
) -> Organisation:
    region = await tenant_region(session, tenant_id)
    sb, prefix = _org_numbers(data, region)
    org = Organisation(
        tenant_id=tenant_id,
        name=data.name,
        switchboard_raw=data.switchboard,
        switchboard_e164=sb,
        number_prefix=prefix,
        website=data.website,
        notes=data.notes,
    )
    session.add(org)
    await session.flush()
    return org


async def update_organisation(
    session: AsyncSession, org: Organisation, data: OrganisationData
) -> Organisation:
    region = await tenant_region(session, org.tenant_id)
    sb, prefix = _org_numbers(data, region)
    org.name, org.website, org.notes = data.name, data.website, data.notes
    org.switchboard_raw, org.switchboard_e164, org.number_prefix = data.switchboard, sb, prefix
    org.updated_at = utcnow()
    await session.flush()
    return org


async def organisation_by_name(
    session: AsyncSession, tenant_id: int | None, name: str, *, create: bool = False
) -> Organisation | None:
    """The tenant's organisation called ``name`` (case-insensitive), optionally created."""
    scope = (
        Organisation.tenant_id.is_(None)
        if tenant_id is None
        else (Organisation.tenant_id == tenant_id)
    )
    org = await session.scalar(
        select(Organisation)
        .where(scope, func.lower(Organisation.name) == name.lower())
        .order_by(Organisation.id)
        .limit(1)
    )
    if org is None and create:
        org = Organisation(tenant_id=tenant_id, name=name, notes="")
        session.add(org)
        await session.flush()
    return org


async def list_organisations(
    session: AsyncSession, tenant_id: int, limit: int = 100, offset: int = 0
) -> Sequence[Organisation]:
    rows = await session.scalars(
        select(Organisation)
        .where(or_(Organisation.tenant_id == tenant_id, Organisation.tenant_id.is_(None)))
        .order_by(Organisation.name, Organisation.id)
        .limit(limit)
        .offset(offset)
    )
    return rows.all()


# ---------------------------------------------------------------- contacts


def _visible(tenant_id: int | None) -> ColumnElement[bool]:
    """Contacts a tenant sees: its own plus the shared ones."""
    if tenant_id is None:
        return Contact.tenant_id.is_(None)
    return or_(Contact.tenant_id == tenant_id, Contact.tenant_id.is_(None))


def _apply(contact: Contact, data: ContactData) -> None:
    contact.display_name = data.display_name
    contact.given_name = data.given_name
    contact.family_name = data.family_name
    contact.email = data.email
    contact.email_norm = data.email.lower() if data.email else None
    contact.street, contact.postal_code = data.street, data.postal_code
    contact.city, contact.region, contact.country = data.city, data.region, data.country
    contact.language = data.language
    contact.tags = list(data.tags)
    contact.vip = data.vip
    contact.notes = data.notes
    contact.consent_basis, contact.consent_at = data.consent_basis, data.consent_at
    contact.source = data.source


async def _set_numbers(
    session: AsyncSession, contact: Contact, numbers: Iterable[NumberEntry]
) -> None:
    await session.execute(delete(ContactNumber).where(ContactNumber.contact_id == contact.id))
    for pos, n in enumerate(numbers):
        session.add(
            ContactNumber(
                contact_id=contact.id,
                tenant_id=contact.tenant_id,
                kind=n.kind,
                raw=n.raw,
                e164=n.e164,
                position=pos,
            )
        )


async def create_contact(
    session: AsyncSession, tenant_id: int | None, data: ContactData
) -> Contact:
    """Store a new contact; ``data.organisation`` is looked up by name or created."""
    contact = Contact(tenant_id=tenant_id)
    _apply(contact, data)
    if data.organisation:
        org = await organisation_by_name(session, tenant_id, data.organisation, create=True)
        contact.organisation_id = org.id if org else None
    session.add(contact)
    await session.flush()
    await _set_numbers(session, contact, data.numbers)
    await session.flush()
    return contact


async def update_contact(session: AsyncSession, contact: Contact, data: ContactData) -> Contact:
    """Replace every field and number of ``contact`` with ``data``."""
    _apply(contact, data)
    contact.organisation_id = None
    if data.organisation:
        org = await organisation_by_name(session, contact.tenant_id, data.organisation, create=True)
        contact.organisation_id = org.id if org else None
    contact.updated_at = utcnow()
    await _set_numbers(session, contact, data.numbers)
    await session.flush()
    return contact


async def get_contact(session: AsyncSession, contact_id: int, tenant_id: int | None) -> Contact:
    """The contact if visible to ``tenant_id`` (own or shared), else :class:`NotFound`."""
    contact = await session.scalar(
        select(Contact).where(Contact.id == contact_id, _visible(tenant_id))
    )
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    return contact


async def numbers_of(session: AsyncSession, contact_id: int) -> list[NumberEntry]:
    rows = await session.scalars(
        select(ContactNumber)
        .where(ContactNumber.contact_id == contact_id)
        .order_by(ContactNumber.position, ContactNumber.id)
    )
    return [NumberEntry(r.kind, r.raw, r.e164) for r in rows]


async def contact_data(session: AsyncSession, contact: Contact) -> ContactData:
    """The stored contact as the value type used by export and the API."""
    org_name = None
    if contact.organisation_id is not None:
        org_name = await session.scalar(
            select(Organisation.name).where(Organisation.id == contact.organisation_id)
        )
    return _as_data(contact, org_name, await numbers_of(session, contact.id))


def _as_data(c: Contact, organisation: str | None, numbers: Sequence[NumberEntry]) -> ContactData:
    return ContactData(
        display_name=c.display_name,
        given_name=c.given_name,
        family_name=c.family_name,
        organisation=organisation,
        email=c.email,
        numbers=tuple(numbers),
        street=c.street,
        postal_code=c.postal_code,
        city=c.city,
        region=c.region,
        country=c.country,
        language=c.language,
        tags=tuple(c.tags or ()),
        vip=c.vip,
        notes=c.notes,
        consent_basis=c.consent_basis,
        consent_at=c.consent_at,
        source=c.source,
    )


async def contacts_data(
    session: AsyncSession, contacts: Sequence[Contact], chunk: int = 1000
) -> list[ContactData]:
    """:func:`contact_data` for many contacts with two queries per ``chunk`` (exports)."""
    out: list[ContactData] = []
    for i in range(0, len(contacts), chunk):
        part = contacts[i : i + chunk]
        ids = [c.id for c in part]
        numbers: dict[int, list[NumberEntry]] = {cid: [] for cid in ids}
        rows = await session.scalars(
            select(ContactNumber)
            .where(ContactNumber.contact_id.in_(ids))
            .order_by(ContactNumber.contact_id, ContactNumber.position, ContactNumber.id)
        )
        for n in rows:
            numbers[n.contact_id].append(NumberEntry(n.kind, n.raw, n.e164))
        org_ids = {c.organisation_id for c in part if c.organisation_id is not None}
        orgs: dict[int, str] = {}
        if org_ids:
            org_rows = await session.execute(
                select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids))
            )
            orgs = {oid: name for oid, name in org_rows}
        for c in part:
            org = orgs.get(c.organisation_id) if c.organisation_id else None
            out.append(_as_data(c, org, numbers[c.id]))
    return out


async def delete_contact(session: AsyncSession, contact: Contact) -> None:
    await session.delete(contact)
    await session.flush()


async def search_contacts(
    session: AsyncSession,
    tenant_id: int | None,
    query: str = "",
    *,
    tag: str | None = None,
    limit: int = 50,
    offset: int = 0,
    region: str = DEFAULT_REGION,
) -> Sequence[Contact]:
    """Contacts visible to the tenant whose name, e-mail or number matches ``query``.

    A query that normalises to a phone number matches numbers exactly (index); otherwise
    it is a case-insensitive substring of name or e-mail.
    """
    stmt = select(Contact).where(_visible(tenant_id))
    q = query.strip()
    if q:
        try:
            e164 = normalise(q, region)
        except NumberError:
            e164 = None
        if e164:
            ids = select(ContactNumber.contact_id).where(ContactNumber.e164 == e164)
            stmt = stmt.where(Contact.id.in_(ids))
        else:
            like = f"%{q.lower().replace('%', '').replace('_', '')}%"
            stmt = stmt.where(
                or_(func.lower(Contact.display_name).like(like), Contact.email_norm.like(like))
            )
    if tag is not None:
        stmt = stmt.where(_has_tag(session, tag))
    stmt = stmt.order_by(Contact.display_name, Contact.id).limit(limit).offset(offset)
    return (await session.scalars(stmt)).all()


def _has_tag(session: AsyncSession, tag: str) -> ColumnElement[bool]:
    """``tag`` is one of the contact's tags (JSONB ``?`` on PostgreSQL, json_each on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        has: ColumnElement[bool] = cast(Contact.tags, JSONB).has_key(tag)
        return has
    each = select(literal(1)).select_from(func.json_each(Contact.tags).table_valued("value"))
    return exists(each.where(text("value = :tag").bindparams(tag=tag)))


async def create_contacts(
    session: AsyncSession, tenant_id: int | None, datas: Sequence[ContactData]
) -> list[Contact]:
    """Batch :func:`create_contact`: two multi-row INSERTs instead of two per contact."""
    orgs: dict[str, int | None] = {}
    contacts = []
    for data in datas:
        contact = Contact(tenant_id=tenant_id)
        _apply(contact, data)
        if data.organisation:
            key = data.organisation.lower()
            if key not in orgs:
                org = await organisation_by_name(session, tenant_id, data.organisation, create=True)
                orgs[key] = org.id if org else None
            contact.organisation_id = orgs[key]
        contacts.append(contact)
    session.add_all(contacts)
    await session.flush()
    session.add_all(
        ContactNumber(
            contact_id=c.id, tenant_id=tenant_id, kind=n.kind, raw=n.raw, e164=n.e164, position=pos
        )
        for c, data in zip(contacts, datas, strict=True)
        for pos, n in enumerate(data.numbers)
    )
    await session.flush()
    return contacts
