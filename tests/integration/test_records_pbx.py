"""Asterisk's queue_log as the record to reconcile call rows from (ADR 0004, issue #8
defect 5): calls that end while no app runs still get exactly one complete row, and a row
the app stored without the answer (it restarted mid-call) is completed from the PBX's lines.

Runs on an extra Asterisk instance (fresh queue_log) with no ARI application connected, the
state the PBX is in while the app is down: the dialplan's fallback takes every call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.db import migrate
from callcenter.db.calls import CallRepository
from callcenter.db.models import Call
from callcenter.db.session import Database
from callcenter.pbx.ari.rest import AriRest
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Scenario, place_call
from callcenter.records.repository import RecordRepository
from callcenter.records.service import RecordService
from callcenter.state.records import CallRecord

pytestmark = pytest.mark.faults
AGENT = "agent91"
ADD_MEMBER = (
    f"queue add member Local/{AGENT}@agents/n to q-default penalty 0 as {AGENT} "
    f"state_interface Custom:{AGENT}"
)


async def wait_gone(rest: AriRest, channel_ids: set[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = {c.id for c in await rest.channels()}
        if not live & channel_ids:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"calls still up after {timeout} s: {channel_ids}")


async def test_calls_that_end_while_the_app_is_down_get_one_complete_row(
    pbx_factory: Callable[[], Sandbox], tmp_path: Path
) -> None:
    sandbox = pbx_factory()
    await asyncio.to_thread(sandbox.up)
    # An auto-answering member that talks 30 s (the caller hangs up first).
    sandbox.cli(ADD_MEMBER)
    sandbox.cli(f"devstate change Custom:{AGENT} NOT_INUSE")
    sandbox.cli(f"dialplan set global CC_AGENT_TALK_SECONDS_{AGENT} 30")
    url = f"sqlite+aiosqlite:///{tmp_path / 'records.sqlite3'}"
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    rest = AriRest.from_config(sandbox.config)
    try:
        answered = await place_call(
            rest, sandbox.config, Scenario.simple("+49301110001", "+4917011100", hold=4)
        )
        await wait_gone(rest, {answered, f"{answered}-in"})
        sandbox.cli(f"dialplan set global CC_AGENT_RING_SECONDS_{AGENT} 20")  # no answer
        abandoned = await place_call(
            rest, sandbox.config, Scenario.simple("+49301110002", "+4917011101", hold=3)
        )
        await wait_gone(rest, {abandoned, f"{abandoned}-in"})
        # A call the app stored while it ran, without the answer (it restarted mid-call).
        sandbox.cli(f"dialplan set global CC_AGENT_RING_SECONDS_{AGENT} 0")
        partial = await place_call(
            rest, sandbox.config, Scenario.simple("+49301110003", "+4917011102", hold=3)
        )
        await wait_gone(rest, {partial, f"{partial}-in"})
        now = datetime.now(UTC)
        await CallRepository(db).record_finished(
            CallRecord(linkedid=partial, entered_at=now, ended_at=now, outcome="ivr")
        )

        service = RecordService(
            RecordRepository(db, sandbox.config.instance), sandbox.queue_log, grace=0.0
        )
        await service.run_once()
        await service.run_once()  # a second round (or a second instance) doubles nothing

        calls = CallRepository(db)
        row = await calls.get(answered)
        assert row is not None
        assert (row.outcome, row.agent, row.did, row.caller) == (
            "answered",
            AGENT,
            "+49301110001",
            "+4917011100",
        )
        assert row.wait_seconds is not None and row.wait_seconds <= 2
        assert row.talk_seconds is not None and 2 <= row.talk_seconds <= 6
        assert row.queue == "q-default" and row.extra["source"] == "queue_log"

        row = await calls.get(abandoned)
        assert row is not None
        assert row.outcome == "abandoned" and row.agent is None
        assert row.wait_seconds is not None and 2 <= row.wait_seconds <= 5

        row = await calls.get(partial)
        assert row is not None
        assert row.outcome == "answered" and row.agent == AGENT
        assert row.talk_seconds is not None and row.wait_seconds is not None
        assert "agent" in row.extra["reconciled"]

        async with db.session() as session:
            count = await session.scalar(select(func.count()).select_from(Call))
        assert count == 3
        assert service.stats.inserted == 2 and service.stats.completed == 1
    finally:
        await rest.close_session()
        await db.close()
