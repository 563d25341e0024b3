"""Component health for ``GET /healthz``: each part reports up/down with a detail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    name: str
    up: bool
    detail: str
    required: bool = True


Check = Callable[[], Awaitable[ComponentHealth]]


async def run_checks(
    checks: list[Check], timeout: float = 2.0
) -> tuple[bool, list[dict[str, object]]]:
    """Run every check concurrently; a check that hangs or raises counts as down."""

    async def guarded(check: Check) -> ComponentHealth:
        name = getattr(check, "__name__", "check")  # checks are named after their component
        try:
            return await asyncio.wait_for(check(), timeout)
        except TimeoutError:
            return ComponentHealth(name, False, f"no answer within {timeout:g}s")
        except Exception as exc:  # a broken check must not break /healthz
            return ComponentHealth(name, False, f"{type(exc).__name__}: {exc}")

    results = await asyncio.gather(*(guarded(c) for c in checks))
    healthy = all(r.up for r in results if r.required)
    return healthy, [asdict(r) for r in results]
