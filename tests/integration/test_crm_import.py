"""CSV and vCard import into PostgreSQL: dry run, bad rows, duplicates, export round trip."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from crm import csv_import, export, vcard
from crm import repository as repo
from crm.contact import contact_from_mapping
from crm.importing import BadRow, import_contacts
from crm.lookup import Lookup

FIXTURE = Path(__file__).parent.parent / "fixtures" / "crm" / "messy_contacts.csv"


@pytest.fixture(scope="module")
async def db(pg_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    database = Database(pg_url)
    yield database
    await database.close()


async def _tenant(db: Database) -> int:
    async with db.session() as s:
        t = Tenant(slug=f"i-{uuid.uuid4().hex[:8]}", name="Import Tenant")
        s.add(t)
        await s.flush()
        return t.id


async def _csv_import(db: Database, tenant: int, text: str, dry_run: bool) -> dict[str, object]:
    parsed = csv_import.parse(text)
    errors = [BadRow(e.line, e.reason, e.field) for e in parsed.errors]
    async with db.session() as s:
        report = await import_contacts(s, tenant, parsed.rows, errors, dry_run=dry_run)
    return report.to_dict()


async def test_messy_csv_dry_run_then_import(db: Database) -> None:
    tenant = await _tenant(db)
    async with db.session() as s:  # one contact already known: Jana, by e-mail
        await repo.create_contact(
            s,
            tenant,
            contact_from_mapping({"display_name": "Jana Ok", "email": "JANA@jana.example"}),
        )
    text = FIXTURE.read_text(encoding="utf-8")
    dry = await _csv_import(db, tenant, text, dry_run=True)
    assert dry["counts"] == {"create": 4, "update": 1, "skip": 0, "merged": 2, "error": 5}
    by_line = {r["line"]: r for r in dry["rows"]}  # type: ignore[attr-defined]
    assert by_line[8]["action"] == "merged" and "line 2" in by_line[8]["detail"]  # same mobile
    assert by_line[12]["action"] == "merged"  # same e-mail as Anna, other case
    assert by_line[15]["action"] == "update" and "numbers" in by_line[15]["changes"]
    errors = {e["line"]: e for e in dry["errors"]}  # type: ignore[attr-defined]
    assert sorted(errors) == [7, 9, 10, 13, 14]
    assert errors[7]["field"] == "Handy" and errors[9]["field"] == "E-Mail"
    async with db.session() as s:  # the dry run wrote nothing
        own = [c for c in await repo.search_contacts(s, tenant) if c.tenant_id == tenant]
        assert len(own) == 1

    real = await _csv_import(db, tenant, text, dry_run=False)
    assert real["counts"] == dry["counts"]
    lookup = Lookup(db.engine)
    anna = await lookup.lookup(tenant, "+49 171 1234567")
    assert anna.display_name == "Anna Schmidt" and anna.vip
    async with db.session() as s:
        data = await repo.contact_data(s, await repo.get_contact(s, anna.contact_id or 0, tenant))
    assert "Gleiche Handynummer wie Anna" in data.notes  # merged from line 8
    assert (await lookup.lookup(tenant, "0221 5556667")).display_name == "Jana Ok"
    # importing the same file again changes nothing
    again = await _csv_import(db, tenant, text, dry_run=True)
    assert again["counts"] == {"create": 0, "update": 0, "skip": 5, "merged": 2, "error": 5}


@pytest.mark.parametrize("fmt", ["vcard3", "vcard4", "csv"])
async def test_export_import_round_trip_through_the_database(db: Database, fmt: str) -> None:
    source, target = await _tenant(db), await _tenant(db)
    originals = [
        contact_from_mapping(
            {
                "display_name": "Müller, Hans; Dr.",
                "given_name": "Hans",
                "family_name": "Müller",
                "organisation": "Müller GmbH",
                "email": "hans@mueller.example",
                "numbers": [
                    {"type": "mobile", "number": "0171 5557001"},
                    {"type": "work", "number": "030 12345-67"},
                    {"type": "fax", "number": "030 12345-99"},
                ],
                "street": "Hauptstr. 1",
                "postal_code": "10115",
                "city": "Berlin",
                "country": "DE",
                "language": "de",
                "tags": ["A-Kunde", "Presse"],
                "vip": True,
                "notes": "Zeile 1\nZeile 2, mit Komma; und Semikolon",
                "consent_basis": "contract",
                "consent_at": "2025-03-07T09:30:00+00:00",
            }
        ),
        contact_from_mapping({"display_name": "Only Name"}),
    ]
    async with db.session() as s:
        for c in originals:
            await repo.create_contact(s, source, c)
        text = await export.export_contacts(s, source, fmt)
    if fmt == "csv":
        parsed = csv_import.parse(text)
        rows, errs = parsed.rows, parsed.errors
    else:
        vparsed = vcard.parse(text)
        rows, errs = vparsed.cards, []
        assert vparsed.errors == []
    assert errs == []
    async with db.session() as s:
        report = await import_contacts(s, target, rows, dry_run=False)
        assert report.counts()["create"] == 2
        back = await export.tenant_contacts(s, target)
    assert [replace(c, source="x") for c in back] == [replace(c, source="x") for c in originals]
