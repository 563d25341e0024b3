"""One caller lookup per call: CallerIdentity shares a lookup between the IVR and the
screen pop (pure: a counting fake lookup and a hand-driven clock)."""

from __future__ import annotations

import asyncio

import pytest

from crm.identity import CallerIdentity
from crm.lookup import Match


class CountingLookup:
    def __init__(self, *, delay: float = 0.0, fail: bool = False) -> None:
        self.calls: list[tuple[int, str | None, str]] = []
        self.delay, self.fail = delay, fail

    async def lookup(self, tenant_id: int, caller_raw: str | None, region: str = "DE") -> Match:
        self.calls.append((tenant_id, caller_raw, region))
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("database down")
        return Match("contact", caller_raw or "", contact_id=7, display_name="Vera", vip=True)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_the_second_question_about_a_caller_is_answered_from_the_first() -> None:
    inner, clock = CountingLookup(), Clock()
    identity = CallerIdentity(inner, ttl=60, clock=clock)
    first = await identity.lookup(1, "+491715554001", "DE")  # the IVR, before routing
    clock.now += 2
    second = await identity.lookup(1, "+491715554001", "DE")  # the screen pop
    assert first == second and second.contact_id == 7
    assert len(inner.calls) == 1 and identity.lookups == 1
    await identity.lookup(2, "+491715554001", "DE")  # another tenant: its own contacts
    await identity.lookup(1, "+4930123456", "DE")  # another caller
    assert identity.lookups == 3


async def test_concurrent_questions_share_one_running_lookup() -> None:
    inner = CountingLookup(delay=0.05)
    identity = CallerIdentity(inner)
    a, b = await asyncio.gather(identity.lookup(1, "+49301", "DE"), identity.lookup(1, "+49301"))
    assert a == b and len(inner.calls) == 1


async def test_a_caller_who_gives_up_leaves_the_lookup_for_the_next() -> None:
    inner = CountingLookup(delay=0.1)
    identity = CallerIdentity(inner)
    with pytest.raises(TimeoutError):  # the IVR's short timeout
        async with asyncio.timeout(0.01):
            await identity.lookup(1, "+49301", "DE")
    match = await identity.lookup(1, "+49301", "DE")
    assert match.contact_id == 7 and len(inner.calls) == 1


async def test_after_the_ttl_and_after_a_failure_the_caller_is_looked_up_again() -> None:
    inner, clock = CountingLookup(), Clock()
    identity = CallerIdentity(inner, ttl=60, clock=clock)
    await identity.lookup(1, "+49301", "DE")
    clock.now += 61  # a new call of the same caller later on
    await identity.lookup(1, "+49301", "DE")
    assert len(inner.calls) == 2
    failing = CountingLookup(fail=True)
    identity = CallerIdentity(failing, clock=clock)
    with pytest.raises(ConnectionError):
        await identity.lookup(1, "+49301", "DE")
    with pytest.raises(ConnectionError):
        await identity.lookup(1, "+49301", "DE")
    assert len(failing.calls) == 2  # a failure is never served from memory


async def test_memory_is_bounded() -> None:
    identity = CallerIdentity(CountingLookup(), size=3)
    for n in range(10):
        await identity.lookup(1, f"+4930{n}", "DE")
    assert len(identity._recent) == 3
