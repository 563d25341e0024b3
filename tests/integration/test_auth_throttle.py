"""The login guard's windows (in memory) and principal_tenant_filter SQL."""

from __future__ import annotations

import asyncio
import threading

from limits import RateLimitItemPerMinute
from sqlalchemy import select
from sqlalchemy.dialects.postgresql.base import PGDialect

from callcenter.auth import Principal, principal_tenant_filter
from callcenter.db.models import Call, Tenant
from callcenter.login_guard import LoginGuard, ThrottleLimits

PG = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated


async def test_guard_windows_and_success_clears_the_account() -> None:
    guard = LoginGuard(
        limits=ThrottleLimits(
            pair=RateLimitItemPerMinute(3, 1),
            account=RateLimitItemPerMinute(5, 1),
            address=RateLimitItemPerMinute(2, 1),
        )
    )
    for _ in range(3):
        assert (await guard.attempt("Anna", "10.0.0.1")).allowed
    refused = await guard.attempt("anna ", "10.0.0.1")  # the same account, spelled otherwise
    assert (refused.allowed, refused.window) == (False, "pair") and 0 < refused.retry_after <= 61
    assert (await guard.attempt("anna", "10.0.0.2")).allowed  # another address
    await guard.succeeded("anna", "10.0.0.1")
    assert (await guard.attempt("anna", "10.0.0.1")).allowed
    await guard.failed("10.0.0.9")
    await guard.failed("10.0.0.9")
    assert (await guard.attempt("ben", "10.0.0.9")).window == "address"


async def test_hashing_is_bounded() -> None:
    guard = LoginGuard(max_hashing=2)
    running, peak = 0, 0

    def work() -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        threading.Event().wait(0.05)
        running -= 1
        return 1

    assert sum(await asyncio.gather(*(guard.hashing(work) for _ in range(8)))) == 8
    assert peak <= 2


def _sql(principal: Principal) -> str:
    query = select(Call.id).where(principal_tenant_filter(principal, Call.tenant_id))
    return str(query.compile(dialect=PG, compile_kwargs={"literal_binds": True}))


def test_tenant_filter_clauses() -> None:
    staff = Principal(1, "anna", "receptionist", None)
    tenant = Principal(2, "mueller", "tenant", frozenset({7, 3}))
    nobody = Principal(3, "orphan", "tenant", frozenset())
    assert "WHERE" in _sql(staff) and "tenant_id" not in _sql(staff).split("WHERE")[1]
    assert "calls.tenant_id IN (3, 7)" in _sql(tenant)
    assert "false" in _sql(nobody).split("WHERE")[1]
    default = select(Tenant.id).where(principal_tenant_filter(tenant))
    assert "tenants.id IN" in str(default.compile(dialect=PG))
    assert tenant.can_see(3) and not tenant.can_see(4) and not tenant.can_see(None)
    assert staff.can_see(None)
