"""Export a tenant's contacts as CSV (readable back by :mod:`crm.csv_import`) or vCard."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcenter.spreadsheets import safe_cell
from crm import repository as repo
from crm import vcard
from crm.contact import ContactData
from crm.csv_import import NUMBER_FIELDS, TEXT_FIELDS
from crm.models import Contact

FORMATS = ("csv", "vcard3", "vcard4")
CSV_COLUMNS = (*TEXT_FIELDS, *NUMBER_FIELDS)


def to_csv(contacts: Iterable[ContactData]) -> str:
    """Comma-separated, header = field names; several numbers of one kind joined by ``|``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    kind_to_col = {v: k for k, v in NUMBER_FIELDS.items()}
    for c in contacts:
        row: dict[str, str] = {
            "display_name": c.display_name,
            "given_name": c.given_name,
            "family_name": c.family_name,
            "organisation": c.organisation or "",
            "email": c.email or "",
            "street": c.street,
            "postal_code": c.postal_code,
            "city": c.city,
            "region": c.region,
            "country": c.country,
            "language": c.language or "",
            "tags": "|".join(c.tags),
            "vip": "true" if c.vip else "false",
            "notes": c.notes,
            "consent_basis": c.consent_basis or "",
            "consent_at": c.consent_at.isoformat() if c.consent_at else "",
        }
        for n in c.numbers:
            col = kind_to_col.get(n.kind, "phone")
            row[col] = f"{row[col]}|{n.raw}" if row.get(col) else n.raw
        writer.writerow([safe_cell(row.get(col, "")) for col in CSV_COLUMNS])
    return out.getvalue()


async def tenant_contacts(session: AsyncSession, tenant_id: int | None) -> list[ContactData]:
    """The tenant's own contacts (not the shared ones; ``None``: the shared ones), oldest first."""
    scope = Contact.tenant_id.is_(None) if tenant_id is None else Contact.tenant_id == tenant_id
    stmt = select(Contact).where(scope).order_by(Contact.id)
    return await repo.contacts_data(session, list(await session.scalars(stmt)))


async def export_contacts(session: AsyncSession, tenant_id: int | None, fmt: str) -> str:
    """All of the tenant's contacts in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    contacts = await tenant_contacts(session, tenant_id)
    if fmt == "csv":
        return to_csv(contacts)
    return vcard.serialize(contacts, "3.0" if fmt == "vcard3" else "4.0")
