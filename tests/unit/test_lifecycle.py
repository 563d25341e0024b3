"""A part whose shutdown hangs must not keep the older parts running (the PBX lifecycle's
ARI lease would go on taking the ARI application back)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from callcenter.lifecycle import bounded_shutdown


async def test_a_hanging_shutdown_is_left_behind_and_older_parts_still_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stopped: list[str] = []

    async def older(_app: web.Application) -> AsyncIterator[None]:
        yield
        stopped.append("older")

    async def hanging(_app: web.Application) -> AsyncIterator[None]:
        yield
        await asyncio.Event().wait()  # never set

    app = web.Application()
    app.cleanup_ctx.extend([bounded_shutdown(older), bounded_shutdown(hanging, 0.2)])
    runner = web.AppRunner(app)
    await runner.setup()
    await asyncio.wait_for(runner.cleanup(), 30)
    assert stopped == ["older"]
    assert "did not finish within" in caplog.text


async def test_start_up_and_shutdown_errors_are_unchanged() -> None:
    async def failing(_app: web.Application) -> AsyncIterator[None]:
        yield
        raise RuntimeError("stop failed")

    app = web.Application()
    app.cleanup_ctx.append(bounded_shutdown(failing))
    runner = web.AppRunner(app)
    await runner.setup()
    with pytest.raises(BaseException, match="stop failed"):
        await runner.cleanup()
