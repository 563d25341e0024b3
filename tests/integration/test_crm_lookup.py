"""Caller lookup and contact storage on real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from callcenter.db import migrate
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from crm import duplicates as dedupe
from crm import repository as repo
from crm.contact import ValidationError, contact_from_mapping
from crm.lookup import CallerLookup, Lookup, PgLookup
from crm.repository import OrganisationData


@pytest.fixture(scope="module")
async def db(pg_url: str) -> AsyncIterator[Database]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    database = Database(pg_url)
    yield database
    await database.close()


@pytest.fixture(scope="module", params=["sqlalchemy", "asyncpg"])
async def lookup_impl(request: pytest.FixtureRequest, db: Database) -> AsyncIterator[CallerLookup]:
    """Both implementations must give the same answers."""
    if request.param == "sqlalchemy":
        yield Lookup(db.engine)
        return
    fast = await PgLookup.connect(db.url, size=2)
    yield fast
    await fast.close()


@pytest.fixture(scope="module")
async def tenants(db: Database, lookup_impl: CallerLookup) -> tuple[int, int]:
    """Fresh tenants per implementation, so both runs start from the same data."""
    async with db.session() as s:
        a = Tenant(slug=f"a-{uuid.uuid4().hex[:8]}", name="Müller GmbH")
        b = Tenant(slug=f"b-{uuid.uuid4().hex[:8]}", name="Other AG", region="AT")
        s.add_all([a, b])
        await s.flush()
        return a.id, b.id


async def _contact(db: Database, tenant: int | None, **fields: object) -> int:
    async with db.session() as s:
        c = await repo.create_contact(s, tenant, contact_from_mapping(fields))
        return c.id


async def test_exact_number_in_the_tenant_then_shared(
    db: Database, tenants: tuple[int, int], lookup_impl: CallerLookup
) -> None:
    a, b = tenants
    mine = await _contact(
        db, a, display_name="Anna", organisation="Kunde KG", vip=True, language="en",
        tags=["Stammkunde"], numbers=[{"type": "mobile", "number": "0171 5550001"}],
    )  # fmt: skip
    shared = await _contact(
        db,
        None,
        display_name="Steuerberater",
        numbers=[{"type": "work", "number": f"+49 172 {a:07d}"}],  # unique per run
    )
    lookup = lookup_impl
    m = await lookup.lookup(a, "+491715550001")
    assert (m.status, m.contact_id, m.display_name, m.vip, m.language) == (
        "contact", mine, "Anna", True, "en",
    )  # fmt: skip
    assert m.tags == ("Stammkunde",) and m.organisation_name == "Kunde KG" and not m.shared
    # the same number seen from another tenant: not visible
    assert (await lookup.lookup(b, "+491715550001")).status == "unknown"
    # shared contacts are visible to every tenant
    m = await lookup.lookup(b, f"0049 172 {a:07d}")
    assert (m.status, m.contact_id, m.shared) == ("contact", shared, True)
    # the tenant's own contact wins over a shared one with the same number
    own = await _contact(db, b, display_name="Own", numbers=[{"number": f"+49172{a:07d}"}])
    assert (await lookup.lookup(b, f"+49172{a:07d}")).contact_id == own


async def test_anonymous_and_malformed_caller_ids(
    db: Database, tenants: tuple[int, int], lookup_impl: CallerLookup
) -> None:
    lookup = lookup_impl
    for raw in (None, "", "anonymous", "Restricted"):
        m = await lookup.lookup(tenants[0], raw)
        assert m.status == "anonymous" and m.label == "Anonymous"
    for raw in ("abc", "12", "0\r\n1", "9" * 60):
        m = await lookup.lookup(tenants[0], raw)
        assert m.status == "invalid" and m.reason
    m = await lookup.lookup(tenants[0], "+49 30 99999999")
    assert m.status == "unknown" and m.label == "Unknown caller" and m.e164 == "+493099999999"


async def test_direct_dial_falls_back_to_the_organisation_by_longest_prefix(
    db: Database, tenants: tuple[int, int], lookup_impl: CallerLookup
) -> None:
    a, b = tenants
    async with db.session() as s:
        mueller = await repo.create_organisation(
            s, a, OrganisationData("Müller Zentrale", switchboard="030 4711-0")
        )
        sales = await repo.create_organisation(
            s, a, OrganisationData("Müller Vertrieb", number_prefix="030 4711 5")
        )
        assert mueller.number_prefix == "+49304711" and mueller.switchboard_e164 == "+493047110"
    lookup = lookup_impl
    m = await lookup.lookup(a, "030 4711-23")
    assert (m.status, m.organisation_id, m.via) == ("organisation", mueller.id, "prefix")
    m = await lookup.lookup(a, "030 4711-523")
    assert (m.organisation_id, m.via) == (sales.id, "prefix")
    m = await lookup.lookup(a, "+49 30 4711 0")
    assert (m.organisation_id, m.via) == (mueller.id, "switchboard")
    assert (await lookup.lookup(b, "030 4711-23")).status == "unknown"
    # a known contact's own number beats the organisation prefix
    anna = await _contact(db, a, display_name="Anna D", numbers=[{"number": "030 4711-42"}])
    assert (await lookup.lookup(a, "03047114 2")).contact_id == anna


async def test_organisation_with_a_too_short_prefix_is_refused(
    db: Database, tenants: tuple[int, int]
) -> None:
    async with db.session() as s:
        with pytest.raises(ValidationError) as info:
            await repo.create_organisation(
                s, tenants[0], OrganisationData("X", number_prefix="+49")
            )
    assert info.value.field == "number_prefix"


async def test_duplicates_and_merge(
    db: Database, tenants: tuple[int, int], lookup_impl: CallerLookup
) -> None:
    a, _ = tenants
    one = await _contact(
        db, a, display_name="Dup One", email="dup@example.de", tags=["a"],
        numbers=[{"number": "0171 5550100"}],
    )  # fmt: skip
    two = await _contact(
        db, a, display_name="Dup Two", email="DUP@example.de", tags=["b"], vip=True,
        city="Köln", numbers=[{"number": "0171 5550101"}],
    )  # fmt: skip
    probe = contact_from_mapping({"display_name": "x", "email": "Dup@Example.de"})
    async with db.session() as s:
        assert await dedupe.find_duplicates(s, a, probe) == [one, two]
        kept = await dedupe.merge(s, one, two, a)
        data = await repo.contact_data(s, kept)
    assert data.display_name == "Dup One" and data.vip and data.city == "Köln"
    assert data.tags == ("a", "b")
    assert [n.e164 for n in data.numbers] == ["+491715550100", "+491715550101"]
    m = await lookup_impl.lookup(a, "+491715550101")
    assert m.contact_id == one
    async with db.session() as s:
        with pytest.raises(repo.NotFound):
            await repo.get_contact(s, two, a)


async def test_search_by_text_number_and_tag(
    db: Database, tenants: tuple[int, int], lookup_impl: CallerLookup
) -> None:
    a, b = tenants
    await _contact(db, a, display_name="Zora Search", tags=["presse", "vip-liste"],
                   numbers=[{"number": "0171 5550700"}])  # fmt: skip
    await _contact(db, a, display_name="Zora Other", tags=["presse"])
    await _contact(db, b, display_name="Zora Elsewhere", tags=["presse"])
    async with db.session() as s:
        names = [c.display_name for c in await repo.search_contacts(s, a, "zora")]
        assert names == ["Zora Other", "Zora Search"]
        by_number = await repo.search_contacts(s, a, "+49 171 555 0700")
        assert [c.display_name for c in by_number] == ["Zora Search"]
        tagged = await repo.search_contacts(s, a, "zora", tag="vip-liste")
        assert [c.display_name for c in tagged] == ["Zora Search"]
        page = await repo.search_contacts(s, a, "zora", tag="presse", limit=1, offset=1)
        assert [c.display_name for c in page] == ["Zora Search"]


async def test_search_by_tag_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.sqlite3'}"
    await asyncio.to_thread(migrate.upgrade, url)
    lite = Database(url)
    try:
        async with lite.session() as s:
            t = Tenant(slug="lite", name="Lite")
            s.add(t)
            await s.flush()
            for name, tags in (("A", ["x", "y"]), ("B", ["y"]), ("C", [])):
                await repo.create_contact(s, t.id, contact_from_mapping(
                    {"display_name": name, "tags": tags}))  # fmt: skip
            assert [c.display_name for c in await repo.search_contacts(s, t.id, tag="y")] == [
                "A", "B",
            ]  # fmt: skip
            assert [c.display_name for c in await repo.search_contacts(s, t.id, tag="x")] == ["A"]
    finally:
        await lite.close()
