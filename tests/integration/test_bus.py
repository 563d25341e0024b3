"""The bus behaves the same in-process and over a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from callcenter.bus import Bus, InProcessBus, RedisBus


@pytest.fixture(params=["inprocess", "redis"])
async def bus(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Bus]:
    b: Bus = (
        InProcessBus() if request.param == "inprocess" else RedisBus(redis_url, prefix="cc-test:")
    )
    yield b
    await b.close()


async def _collect(bus: Bus, n: int, *topics: str) -> list[tuple[str, dict[str, object]]]:
    out = []
    async for item in bus.subscribe(*topics):
        out.append(item)
        if len(out) == n:
            break
    return out


async def _started(task: asyncio.Task[Any]) -> None:
    # Give the subscriber time to register (Redis SUBSCRIBE round trip).
    for _ in range(50):
        await asyncio.sleep(0.01)
    assert not task.done()


async def test_topic_subscription_receives_in_order(bus: Bus) -> None:
    task = asyncio.ensure_future(_collect(bus, 3, "calls"))
    await _started(task)
    await bus.publish("queues", {"type": "ignored"})
    for i in range(3):
        await bus.publish("calls", {"type": "call.updated", "n": i})
    got = await asyncio.wait_for(task, 5)
    assert [e["n"] for _, e in got] == [0, 1, 2]
    assert {t for t, _ in got} == {"calls"}


async def test_wildcard_subscription_sees_every_topic(bus: Bus) -> None:
    task = asyncio.ensure_future(_collect(bus, 2))
    await _started(task)
    await bus.publish("calls", {"type": "a"})
    await bus.publish("agents", {"type": "b"})
    got = await asyncio.wait_for(task, 5)
    assert [t for t, _ in got] == ["calls", "agents"]
    assert await bus.ping()


async def test_redis_down_reports_ping_false() -> None:
    bad = RedisBus("redis://127.0.0.1:1/0")
    assert await bad.ping() is False
    await bad.close()


async def test_slow_inprocess_subscriber_drops_oldest() -> None:
    bus = InProcessBus(queue_size=2)
    agen = cast(AsyncGenerator[tuple[str, dict[str, Any]]], bus.subscribe("calls"))
    first = asyncio.ensure_future(agen.__anext__())
    await asyncio.sleep(0)  # subscriber registered, not yet consuming
    for i in range(5):
        await bus.publish("calls", {"n": i})
    # A full queue drops its oldest event instead of blocking the publisher.
    got = [(await first)[1]["n"], (await agen.__anext__())[1]["n"]]
    assert got == [3, 4]
    await agen.aclose()


async def test_redis_subscription_survives_a_redis_restart(tmp_path: Any) -> None:
    """A private redis-server is killed and started again: the subscriber carries on."""
    import shutil
    import socket
    import subprocess

    server = shutil.which("redis-server")
    assert server is not None, "redis-server is installed by .ci/run"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [
        server,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        str(tmp_path),
    ]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    proc = start()
    url = f"redis://127.0.0.1:{port}/0"
    bus = RedisBus(url, prefix="cc-restart:")
    # A second client tells how many subscribers a publish reached (the Bus does not).
    probe = aioredis.from_url(url, decode_responses=True)
    try:
        for _ in range(100):
            if await bus.ping():
                break
            await asyncio.sleep(0.05)
        task = asyncio.ensure_future(_collect(bus, 2, "calls"))
        await _started(task)
        await bus.publish("calls", {"type": "before"})
        proc.kill()
        proc.wait()
        await asyncio.sleep(0.5)  # the subscriber notices and starts retrying
        proc = start()
        for _ in range(200):  # resubscribed (backoff ≤ 5 s) once a publish reaches someone
            with contextlib.suppress(RedisError):
                if await probe.publish("cc-restart:calls", '{"type": "after"}'):
                    break
            await asyncio.sleep(0.05)
        got = await asyncio.wait_for(task, 10)
        assert [e["type"] for _, e in got] == ["before", "after"]
    finally:
        proc.kill()
        proc.wait()
        await probe.aclose()
        await bus.close()
