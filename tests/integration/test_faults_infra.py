"""The fault suite's infrastructure faults (issue #8): Redis, PostgreSQL and Asterisk die
under scripted traffic while a real ``callcenter serve`` runs.

After each fault: every finished call is recorded exactly once and complete, nobody is left
in silence, the log holds one warning per outage (no traceback flood), and after a PBX kill
the live state equals ``core show channels`` within 5 s of the PBX being back.
Private redis-server and PostgreSQL cluster on the test's own ports; extra Asterisk
instances from ``pbx_factory`` (the shared one is never killed).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.models import Call
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from callcenter.pbx.ari.rest import AriRest
from callcenter.pbx.sandbox import Sandbox, SandboxError
from callcenter.pbx.simulate import Dtmf, Scenario, Wait, inbound_leg_id, place_call
from tests.integration.apps import (
    AppProcess,
    PrivatePostgres,
    PrivateRedis,
    app_env,
    eventually,
    http_get,
    login,
)
from tests.integration.conftest import test_port_base
from tests.integration.test_faults_app import DID, write_tenant

pytestmark = pytest.mark.faults
AGENT = "agent92"
PASSWORD = "Fault-Suite-Passw0rd!"
FIGURES = Path(__file__).resolve().parents[2] / "var" / "fault-figures.jsonl"


@dataclass
class Rig:
    sandbox: Sandbox
    app: AppProcess
    rest: AriRest
    db: Database
    placed: list[str] = field(default_factory=list)

    async def answered(self, talk: float = 2.0) -> str:
        """Presses 1 in the menu, reaches the queue, talks ``talk`` s to the agent."""
        steps = (Wait(1.0), Dtmf("1"), Wait(talk + 1.0))
        return await self._place(Scenario(DID, "+4917099001", "", steps))

    async def menu_hangup(self) -> str:
        return await self._place(Scenario(DID, "+4917099002", "", (Wait(2.0),)))

    async def _place(self, scenario: Scenario) -> str:
        linkedid = await place_call(self.rest, self.sandbox.config, scenario)
        self.placed.append(linkedid)
        return linkedid

    async def up_channels(self) -> set[str]:
        return {c.id for c in await self.rest.channels()}

    async def all_ended(self, timeout: float = 30.0) -> None:
        ids = {x for p in self.placed for x in (p, inbound_leg_id(p))}

        async def ended() -> bool:
            return not (await self.up_channels()) & ids

        await eventually(ended, "every placed call to end", timeout)

    async def rows(self) -> dict[str, list[Call]]:
        async with self.db.session() as session:
            found = (await session.scalars(select(Call))).all()
        out: dict[str, list[Call]] = {}
        for row in found:
            out.setdefault(row.linkedid, []).append(row)
        return out

    async def check_recorded_once(self, timeout: float = 20.0) -> dict[str, Call]:
        """Every placed call has exactly one row; answered rows are complete."""

        async def complete() -> bool:
            try:
                rows = await self.rows()
            except Exception:  # the database may still be coming back
                return False
            return all(p in rows for p in self.placed)

        await eventually(complete, "a row for every call placed", timeout, step=0.5)
        rows = await self.rows()
        assert {k: len(v) for k, v in rows.items() if k in self.placed} == {
            p: 1 for p in self.placed
        }
        assert set(rows) == set(self.placed), (
            f"rows of calls nobody placed: {set(rows) - set(self.placed)}"
        )
        for linkedid in self.placed:
            row = rows[linkedid][0]
            if row.outcome == "answered":
                assert row.agent and row.wait_seconds is not None and row.talk_seconds, row
        return {k: v[0] for k, v in rows.items()}


def record_figures(fault: str, **figures: object) -> None:
    """Append this run's figures to var/fault-figures.jsonl (the source of docs/reliability.md)."""
    FIGURES.parent.mkdir(exist_ok=True)
    with FIGURES.open("a") as out:
        out.write(json.dumps({"fault": fault, "at": time.time(), **figures}) + "\n")


@asynccontextmanager
async def rig(
    pbx_factory: Callable[[], Sandbox],
    pbx_config: Config,
    tmp_path: Path,
    database_url: str,
    redis_url: str = "",
) -> AsyncIterator[Rig]:
    sandbox = pbx_factory()
    await asyncio.to_thread(sandbox.up)
    await asyncio.to_thread(migrate.upgrade, database_url)
    db = Database(database_url)
    await UserRepository(db).add("fault-admin", PASSWORD, "admin")
    port = test_port_base() + 170
    env = app_env(
        pbx_config,
        sandbox.config,
        port=port,
        database_url=database_url,
        tenants=write_tenant(tmp_path / "tenants"),
        redis_url=redis_url,
    )
    app = AppProcess(env, port, tmp_path / "app.log")
    rest = AriRest.from_config(sandbox.config)
    try:
        app.start()
        await app.wait_ready()

        async def queue_exists() -> bool:
            return "q-fk-de" in await asyncio.to_thread(sandbox.cli, "queue show q-fk-de")

        await eventually(queue_exists, "the tenant queue provisioned by the app")
        sandbox.cli(
            f"queue add member Local/{AGENT}@agents/n to q-fk-de penalty 0 as {AGENT} "
            f"state_interface Custom:{AGENT}"
        )
        sandbox.cli(f"devstate change Custom:{AGENT} NOT_INUSE")
        yield Rig(sandbox, app, rest, db)
    finally:
        app.stop()
        await rest.close_session()
        await db.close()


def log_count(app: AppProcess, text: str) -> int:
    return app.log.read_text(errors="replace").count(text)


async def test_redis_restart_loses_nothing_and_logs_once(
    pbx_factory: Callable[[], Sandbox], pbx_config: Config, tmp_path: Path
) -> None:
    redis = PrivateRedis(test_port_base() + 210, tmp_path / "redis.log")
    redis.start()
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}"
    try:
        async with rig(pbx_factory, pbx_config, tmp_path, url, redis.url) as r:
            await r.answered()
            await r.menu_hangup()
            await asyncio.sleep(1.5)
            redis.kill()
            in_flight = len(await r.up_channels()) // 2
            await r.answered()
            await r.menu_hangup()
            await asyncio.sleep(4.0)  # events published meanwhile are dropped, not raised
            redis.start()
            await r.answered()
            await r.all_ended()
            await r.check_recorded_once()

            async def back() -> bool:
                return await asyncio.to_thread(r.app.component_up, "redis")

            await eventually(back, "/healthz redis up again")
            await r.answered()  # events flow again once Redis is back
            await r.all_ended()
            await r.check_recorded_once()
            metrics = await asyncio.to_thread(http_get, f"{r.app.url}/metrics")
            failures = next(
                float(line.split()[-1])
                for line in metrics.splitlines()
                if line.startswith("callcenter_redis_failures_total")
            )
            assert failures >= 1
            assert log_count(r.app, "Redis unreachable") == 1, r.app.tail()
            assert log_count(r.app, "Redis reachable again") == 1, r.app.tail()
            assert log_count(r.app, "Traceback") == 0, r.app.tail()
            record_figures(
                "redis SIGKILL + restart",
                calls=len(r.placed),
                in_flight=in_flight,
                lost=0,
                doubled=0,
            )
    finally:
        redis.kill()


async def test_postgres_restart_loses_no_call_row(
    pbx_factory: Callable[[], Sandbox], pbx_config: Config, tmp_path: Path
) -> None:
    pg = PrivatePostgres(test_port_base() + 220)
    await asyncio.to_thread(pg.init)
    await asyncio.to_thread(pg.start)
    try:
        async with rig(pbx_factory, pbx_config, tmp_path, pg.url) as r:
            await r.answered()
            await r.menu_hangup()
            await asyncio.sleep(1.0)
            await asyncio.to_thread(pg.stop, "immediate")  # a crash: connections just drop
            in_flight = len(await r.up_channels()) // 2
            await r.answered()
            await r.menu_hangup()
            await r.all_ended()  # these end while the database is down
            await asyncio.sleep(2.0)
            await asyncio.to_thread(pg.start)
            await r.answered()
            await r.all_ended()
            rows = await r.check_recorded_once(timeout=40)
            assert sum(1 for x in rows.values() if x.outcome == "answered") == 3
            record_figures(
                "PostgreSQL crash + restart",
                calls=len(r.placed),
                in_flight=in_flight,
                lost=0,
                doubled=0,
            )
    finally:
        await asyncio.to_thread(pg.remove)


async def test_pbx_sigkill_live_state_matches_within_5s(
    pbx_factory: Callable[[], Sandbox], pbx_config: Config, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}"
    async with rig(pbx_factory, pbx_config, tmp_path, url) as r:
        r.sandbox.cli(f"dialplan set global CC_AGENT_TALK_SECONDS_{AGENT} 60")
        talking = await r.answered(talk=60)
        in_menu = await r.menu_hangup()
        await asyncio.sleep(2.5)
        waiting = await r.answered(talk=60)  # the only receptionist is busy: it waits
        await asyncio.sleep(4.0)
        token = await asyncio.to_thread(login, r.app, "fault-admin", PASSWORD)

        def live_channels() -> int:
            snap = json.loads(http_get(f"{r.app.url}/api/live", token))
            return sum(int(c["channels"]) for c in snap["calls"].values())

        assert await asyncio.to_thread(live_channels) > 0
        in_flight = len(await r.up_channels()) // 2
        r.sandbox.kill()
        try:
            await asyncio.to_thread(r.sandbox.up)
        except SandboxError:
            # Seen once under load average 10: the restarted Asterisk exited during boot
            # (its ports not yet released). Restarting the PBX is the harness's job here;
            # what is under test is the app once the PBX is back.
            await asyncio.sleep(2.0)
            await asyncio.to_thread(r.sandbox.up)
        back = time.monotonic()
        await r.answered()  # traffic again right after the restart

        def pbx_channels() -> int:
            out = r.sandbox.cli("core show channels concise")
            return sum(1 for line in out.splitlines() if "!" in line)

        async def equal() -> bool:
            a, b = await asyncio.gather(
                asyncio.to_thread(live_channels), asyncio.to_thread(pbx_channels)
            )
            return a == b and a > 0

        took = await eventually(equal, "live state == core show channels", 5.0, step=0.1)
        await r.all_ended()
        rows = await r.check_recorded_once()
        assert rows[talking].outcome == "lost" and rows[in_menu].outcome in ("lost", "ivr")
        # Lost while waiting: its wait runs until the PBX went away, not 0 (issue #8).
        lost_wait = rows[waiting].wait_seconds
        assert rows[waiting].outcome == "lost" and lost_wait is not None and lost_wait >= 1.5
        record_figures(
            "Asterisk SIGKILL + restart",
            calls=len(r.placed),
            in_flight=in_flight,
            lost=0,
            doubled=0,
            live_state_equal_after_s=round(time.monotonic() - back, 2),
            equal_poll_s=round(took, 2),
        )
