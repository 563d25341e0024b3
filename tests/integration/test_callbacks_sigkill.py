"""Callbacks across a SIGKILL of a real ``callcenter serve`` process (fault suite).

One callback's placeholder waits in app_queue when the app is killed; a second callback is
requested while the app is down. After the restart (same host and port, so the same owner
id) the app adopts the waiting placeholder instead of placing a second one, places the new
request behind it, and the receptionist who logs in then gets both in arrival order: each
customer dialled exactly once, both completed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from callbacks.dispatch import slot_ids
from callbacks.models import CallbackAttempt, CallbackRequest
from callbacks.store import CallbackRepository, NewCallback
from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.session import Database
from callcenter.pbx.ari.rest import AriRest
from callcenter.pbx.sandbox import Sandbox
from tests.integration.apps import AppProcess, app_env, eventually
from tests.integration.callbacks_support import install_dialplan
from tests.integration.conftest import test_port_base

pytestmark = pytest.mark.faults
QUEUE = "q-fcb-de"
MEMBER = "agent94"
ALL_WEEK = "\n".join(
    f'{d} = ["00:00-24:00"]' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)
TENANT = f"""
slug = "fcb"
name = "Fault Callback KG"
greeting = "Fault Callback KG"
languages = ["de"]
default_language = "de"
timezone = "Europe/Berlin"
[hours]
{ALL_WEEK}
[[dids]]
number = "+49301240003"
[routing]
voicemail_box = "fcb"
[[routing.queues]]
name = "{QUEUE}"
language = "de"
[ivr]
entry = "reception"
receptionist = "reception"
[flows.reception]
type = "queue"
[callbacks]
closing_margin = 0
"""


async def _row(db: Database, request_id: int) -> CallbackRequest:
    async with db.session() as session:
        row = await session.get(CallbackRequest, request_id)
    assert row is not None
    return row


async def _attempts(db: Database, request_id: int) -> list[CallbackAttempt]:
    async with db.session() as session:
        query = select(CallbackAttempt).where(CallbackAttempt.request_id == request_id)
        return list((await session.execute(query)).scalars())


async def test_callbacks_survive_a_sigkill_of_the_app_and_are_dialled_once(
    pbx_factory: Callable[[], Sandbox], pbx_config: Config, tmp_path: Path
) -> None:
    sandbox = pbx_factory()
    await asyncio.to_thread(sandbox.up)
    install_dialplan(sandbox)  # customers in [cc-transfer-sim] that answer
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}"
    await asyncio.to_thread(migrate.upgrade, url)
    tenants = tmp_path / "t"
    tenants.mkdir()
    (tenants / "fcb.toml").write_text(TENANT)
    port = test_port_base() + 151
    env = app_env(pbx_config, sandbox.config, port=port, database_url=url, tenants=tenants)
    app = AppProcess(env, port, tmp_path / "app.log")
    rest = AriRest.from_config(sandbox.config)
    db = Database(url)
    repo = CallbackRepository(db)
    try:
        app.start()
        await app.wait_ready()
        first = await repo.add(
            NewCallback(
                "fcb",
                f"+49305550{uuid.uuid4().int % 10_000:04d}",
                QUEUE,
                "de",
                None,
                datetime.now(UTC),
            )
        )
        slot, stasis_half = slot_ids(first, 1)

        async def placed() -> bool:
            # Both halves in place: ;1 waiting in Queue(), ;2 inside our Stasis app. Killing
            # the app before ;2 reached Stasis() leaves a placeholder that hangs up by itself
            # ("Stasis app 'callcenter' doesn't exist"): nothing to adopt then.
            apps = {c.id: c.dialplan.app_name for c in await rest.channels()}
            return apps.get(slot) == "Queue" and apps.get(stasis_half) == "Stasis"

        await eventually(placed, "the first callback's placeholder in app_queue", timeout=30)
        app.kill()  # SIGKILL: lease held, placeholder left in the queue, nothing cleaned up
        second = await repo.add(  # asked for while the app is down
            NewCallback(
                "fcb",
                f"+49305550{uuid.uuid4().int % 10_000:04d}",
                QUEUE,
                "de",
                None,
                datetime.now(UTC),
            )
        )
        assert await placed()  # Asterisk kept it
        app.start()
        await app.wait_ready()

        async def member_ready() -> bool:
            out = await asyncio.to_thread(
                sandbox.cli,
                f"queue add member Local/{MEMBER}@agents/n to {QUEUE} penalty 0 as {MEMBER}"
                f" state_interface Custom:{MEMBER}",
            )
            return "Added interface" in out or "Already there" in out

        await eventually(member_ready, f"a member in {QUEUE}")
        sandbox.cli(f"devstate change Custom:{MEMBER} NOT_INUSE")

        async def both_done() -> bool:
            return all([(await _row(db, i)).status == "done" for i in (first, second)])

        await eventually(both_done, "both callbacks completed", timeout=90)
        one, two = await _row(db, first), await _row(db, second)
        # The first kept its placeholder across the kill (adopted: lease token 1, not 2).
        assert (one.lease_token, one.attempts, one.outcome) == (1, 1, "completed"), app.tail()
        assert (two.attempts, two.outcome) == (1, "completed")
        dials = [a for i in (first, second) for a in await _attempts(db, i)]
        assert sorted(a.channel_id for a in dials) == sorted(
            [f"cb-{first}-a1-c", f"cb-{second}-a1-c"]
        )
        assert all(a.outcome == "answered" for a in dials)
        assert one.done_at is not None and two.done_at is not None and one.done_at < two.done_at
    finally:
        app.stop()
        await rest.close_session()
        await db.close()
