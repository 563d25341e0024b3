"""The dispatcher's durable state on both backends (SQLite, the embedded single-instance
default, and PostgreSQL): one claim per callback, the fencing token, attempts and retries,
expired leases, and a closed tenant's callbacks waiting for the opening."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from callbacks.leases import LeaseStore
from callbacks.plugin import open_tenants, tenant_window
from callbacks.retry import Final, Retry, RetryPolicy, RetryRule
from callbacks.store import CallbackRepository, NewCallback
from callcenter.db import migrate
from callcenter.db.session import Database
from ivr.loader import load_tenant_text
from ivr.prompts import PromptSources
from ivr.registry import TenantRegistry

# Tuesday 1 December 2026; the tenant is open 08:00–17:00 Berlin (07:00–16:00 UTC).
MORNING = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NIGHT = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
POLICY = RetryPolicy({"busy": RetryRule(2, 300), "no_answer": RetryRule(1, 0)})

TENANT = """
slug = "{slug}"
name = "Hours GmbH"
greeting = "Hours GmbH, {{agent}}"
languages = ["de"]
default_language = "de"
timezone = "Europe/Berlin"
[hours]
mon = ["08:00-17:00"]
tue = ["08:00-17:00"]
wed = ["08:00-17:00"]
[[dids]]
number = "+49 30 5550000"
queue = "q-hours-de"
[routing]
[[routing.queues]]
name = "q-hours-de"
language = "de"
[ivr]
entry = "reception"
receptionist = "reception"
closed = "reception"
[flows.reception]
type = "queue"
"""


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, pg_url: str
) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cb.db'}" if request.param == "sqlite" else pg_url
    await asyncio.to_thread(migrate.upgrade, url)
    database = Database(url)
    try:
        yield database
    finally:
        await database.close()


async def add(db: Database, tenant: str, number: str, at: datetime) -> int:
    return await CallbackRepository(db).add(NewCallback(tenant, number, "q-x", "de", None, at))


async def test_one_claim_per_callback_and_the_fence(db: Database) -> None:
    tenant = f"l{uuid.uuid4().hex[:6]}"
    ids = [await add(db, tenant, f"+4930555{n:04d}", MORNING) for n in range(4)]
    a, b = LeaseStore(db, "a"), LeaseStore(db, "b")
    got_a, got_b = await asyncio.gather(a.claim(MORNING, [tenant]), b.claim(MORNING, [tenant]))
    claimed = [j.id for j in got_a + got_b]
    assert sorted(claimed) == ids  # each exactly once
    job = (got_a + got_b)[0]
    assert job.token == 1
    # Both instances see the receptionist take it: only one attempt is counted.
    results = await asyncio.gather(
        a.begin_attempt(job.id, job.token, "anna", MORNING),
        b.begin_attempt(job.id, job.token, "anna", MORNING),
    )
    assert sorted(r is None for r in results) == [False, True]
    # A stale token (an older lease) is refused.
    other = (got_a + got_b)[1]
    assert await a.begin_attempt(other.id, other.token - 1, "anna", MORNING) is None
    # Busy: retried after 5 minutes with the same place; the second busy is final.
    decision = await a.ended(job.id, 1, "busy", cause="17", now=MORNING, policy=POLICY)
    assert decision == Retry(MORNING + timedelta(seconds=300))
    assert await a.ended(job.id, 1, "busy", cause="17", now=MORNING, policy=POLICY) is None
    assert [j.id for j in await a.claim(MORNING, [tenant])] == []  # not due yet
    later = MORNING + timedelta(seconds=301)
    [again] = await a.claim(later, [tenant])
    assert (again.id, again.token, again.attempts) == (job.id, 2, 1)
    began = await a.begin_attempt(again.id, again.token, "ben", later)
    assert began is not None and began[1] == 2
    assert await a.ended(again.id, 2, "busy", cause="17", now=later, policy=POLICY) == Final("busy")


async def test_expired_leases_are_found_and_adopted_or_released(db: Database) -> None:
    tenant = f"l{uuid.uuid4().hex[:6]}"
    first = await add(db, tenant, "+4930555100", MORNING)
    dead = LeaseStore(db, "dead", lease_s=10)
    [job] = await dead.claim(MORNING, [tenant])
    alive = LeaseStore(db, "alive", lease_s=10)
    assert await alive.expired_leases(MORNING + timedelta(seconds=5)) == []
    [held] = await alive.expired_leases(MORNING + timedelta(seconds=11))
    assert (held.id, held.token, held.stage) == (first, job.token, "queued")
    adopted = await alive.adopt(held.id, held.token, MORNING + timedelta(seconds=11))
    assert adopted is not None and adopted.token == job.token  # same placeholder id
    assert await alive.release(held.id, held.token, MORNING) is True
    [again] = await alive.claim(MORNING + timedelta(seconds=12), [tenant])
    assert again.token == job.token + 1  # a new lease, a new token


async def test_closed_tenant_waits_for_opening(db: Database, tmp_path: Path) -> None:
    slug = f"hours{uuid.uuid4().hex[:6]}"
    registry = TenantRegistry()
    sources = PromptSources.for_pbx_root(Path("/var/cache/callcenter/pbx-root"), tmp_path)
    loaded = load_tenant_text(TENANT.format(slug=slug), sources, "<hours>")
    registry.replace([loaded])
    window = tenant_window(registry, slug, NIGHT)
    assert window.open is False
    assert window.next_at == datetime(2026, 12, 2, 7, 0, tzinfo=UTC)  # 08:00 Berlin
    assert tenant_window(registry, slug, MORNING).open is True
    # 15 minutes before closing no new callback is started.
    assert tenant_window(registry, slug, datetime(2026, 12, 1, 15, 50, tzinfo=UTC)).open is False
    request_id = await add(db, slug, "+4930555200", NIGHT)
    leases = LeaseStore(db, "x")
    provisioned = {f"q-{slug}-de": slug}  # its queue is on the PBX
    assert open_tenants(registry, NIGHT, provisioned) == []
    assert await leases.claim(NIGHT, open_tenants(registry, NIGHT, provisioned)) == []
    opening = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
    # Open, but its queues not provisioned yet: a placeholder would leave Queue() at once.
    assert open_tenants(registry, opening, {}) == []
    assert open_tenants(registry, opening, provisioned) == [slug]
    claimed = await leases.claim(opening, open_tenants(registry, opening, provisioned))
    assert [j.id for j in claimed] == [request_id]


async def test_window_limits_placeholders_per_queue_and_moves_on(db: Database) -> None:
    tenant = f"w{uuid.uuid4().hex[:6]}"
    repo = CallbackRepository(db)
    ids = {
        q: [
            await repo.add(NewCallback(tenant, f"+4930556{q[-1]}{n:03d}", q, "de", None, MORNING))
            for n in range(4)
        ]
        for q in ("q-w1", "q-w2")
    }
    leases = LeaseStore(db, "w")
    first = await leases.claim(MORNING, [tenant], per_queue=2)
    assert sorted(j.id for j in first) == sorted(ids["q-w1"][:2] + ids["q-w2"][:2])
    assert await leases.claim(MORNING, [tenant], per_queue=2) == []  # window full
    head = next(j for j in first if j.id == ids["q-w1"][0])
    assert await leases.begin_attempt(head.id, head.token, "anna", MORNING) is not None
    [moved] = await leases.claim(MORNING, [tenant], per_queue=2)  # the head left the queue
    assert moved.id == ids["q-w1"][2]


async def test_window_claim_takes_only_what_short_queues_need_in_service_order(
    db: Database,
) -> None:
    """Per queue, at most the window minus what it holds, the earliest first (a VIP ahead);
    a callback due later, or of a closed tenant, is not taken; ``limit`` caps the total."""
    tenant, closed = f"n{uuid.uuid4().hex[:6]}", f"c{uuid.uuid4().hex[:6]}"
    repo = CallbackRepository(db)

    async def add(
        queue: str, n: int, *, of: str = tenant, priority: int = 0, due: datetime | None = None
    ) -> int:
        at = MORNING - timedelta(minutes=10 - n)
        number = f"+4930557{queue[-1]}{n:03d}"
        return await repo.add(
            NewCallback(of, number, queue, "de", None, at, priority=priority, due_at=due)
        )

    a = [await add("q-n1", n) for n in range(3)]
    vip = await add("q-n2", 5, priority=5)  # a later queue by name: order, not names
    later = await add("q-n1", 6, due=MORNING + timedelta(hours=1))
    b = [await add("q-n2", n) for n in range(3)]
    await add("q-n3", 0, of=closed)
    leases = LeaseStore(db, "n")
    [held] = await leases.claim(MORNING, [tenant], limit=1, per_queue=1)
    assert held.id == vip  # the limit: one in all, the first by service order
    first = await leases.claim(MORNING, [tenant], per_queue=2)
    # q-n2 holds one (the VIP), so it needs one more: its earliest; q-n1 needs two.
    assert sorted(j.id for j in first) == sorted([a[0], a[1], b[0]])
    assert later not in {j.id for j in first}
    assert await leases.claim(MORNING, [tenant], per_queue=2) == []
