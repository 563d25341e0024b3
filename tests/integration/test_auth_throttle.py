"""LoginThrottle (pure, clock injected) and principal_tenant_filter SQL."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql.base import PGDialect

from callcenter.auth import LoginThrottle, Principal, principal_tenant_filter
from callcenter.db.models import Call, Tenant

PG = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_slides_and_success_clears_the_user_key() -> None:
    clock = Clock()
    throttle = LoginThrottle(window=60, clock=clock)
    limits = {"user:anna": 3, "ip:10.0.0.1": 5}
    for _ in range(3):
        assert throttle.retry_after(limits) == 0
        throttle.failed("user:anna", "ip:10.0.0.1")
        clock.now += 10
    # Third failure was at t=1020: blocked until the first (t=1000) leaves the window.
    assert throttle.retry_after(limits) == 30
    clock.now = 1061
    assert throttle.retry_after(limits) == 0
    throttle.failed("user:anna", "ip:10.0.0.1")
    assert throttle.retry_after(limits) > 0
    throttle.succeeded("user:anna")
    assert throttle.retry_after(limits) == 0  # the IP counter (4 of 5) still allows it


def test_ip_limit_applies_across_usernames() -> None:
    clock = Clock()
    throttle = LoginThrottle(window=60, clock=clock)
    for i in range(5):
        throttle.failed(f"user:u{i}", "ip:10.0.0.9")
    assert throttle.retry_after({"user:new": 3, "ip:10.0.0.9": 5}) == 60
    assert throttle.retry_after({"user:new": 3, "ip:10.0.0.8": 5}) == 0


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


def test_stale_keys_are_swept() -> None:
    clock = Clock()
    throttle = LoginThrottle(window=60, clock=clock)
    throttle.SWEEP_ABOVE = 100
    for i in range(150):
        throttle.failed(f"user:spray{i}")
    clock.now += 61
    throttle.failed("user:late")
    assert len(throttle._failures) == 1
