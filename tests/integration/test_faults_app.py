"""The app SIGKILLed and restarted under traffic (issue #8: defects 1 and 5, fault suite).

A real ``callcenter serve`` process against an extra Asterisk instance: callers in the IVR
menu when the app dies must not be left in silence once it is back (they reach the tenant's
queue within 10 s), and calls that end while it is down still get exactly one row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callcenter.config import Config
from callcenter.db.models import Call
from callcenter.db.session import Database
from callcenter.pbx.ari.rest import AriRest
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Scenario, inbound_leg_id, place_call
from tests.integration.apps import AppProcess, app_env, app_stores, eventually
from tests.integration.conftest import test_port_base

pytestmark = pytest.mark.faults
DID = "+49301240001"
TENANT = """
slug = "fk"
name = "Fault KG"
greeting = "Fault KG"
languages = ["de"]
default_language = "de"
timezone = "Europe/Berlin"
[hours]
{hours}
[[dids]]
number = "{did}"
entry = "main"
[routing]
voicemail_box = "fk"
[[routing.queues]]
name = "q-fk-de"
language = "de"
[ivr]
entry = "main"
receptionist = "reception"
[flows.main]
type = "menu"
prompts = ["vm-reachoper"]
options = {{ "1" = "reception" }}
timeout = 30
retries = 3
[flows.reception]
type = "queue"
"""
ALL_WEEK = "\n".join(
    f'{d} = ["00:00-24:00"]' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)


def write_tenant(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fk.toml").write_text(TENANT.format(hours=ALL_WEEK, did=DID))
    return directory


async def app_location(rest: AriRest, channel_id: str) -> tuple[str, str]:
    for channel in await rest.channels():
        if channel.id == channel_id:
            return channel.dialplan.app_name, channel.dialplan.app_data
    return "", ""


async def wait_app(rest: AriRest, channel_id: str, app: str, timeout: float) -> float:
    """Seconds until ``channel_id`` runs dialplan application ``app``."""
    began = time.monotonic()
    where: tuple[str, str] = ("", "")
    while time.monotonic() - began < timeout:
        where = await app_location(rest, channel_id)
        if where[0] == app:
            return time.monotonic() - began
        await asyncio.sleep(0.1)
    raise AssertionError(f"{channel_id} not in {app} within {timeout} s (in {where})")


async def test_callers_in_the_menu_survive_an_app_sigkill(
    pbx_factory: Callable[[], Sandbox], pbx_config: Config, tmp_path: Path
) -> None:
    sandbox, url = await app_stores(pbx_factory, tmp_path)
    port = test_port_base() + 150
    env = app_env(
        pbx_config,
        sandbox.config,
        port=port,
        database_url=url,
        tenants=write_tenant(tmp_path / "t"),
    )
    app = AppProcess(env, port, tmp_path / "app.log")
    rest = AriRest.from_config(sandbox.config)
    db = Database(url)
    try:
        app.start()
        await app.wait_ready()
        # In the menu (a 30 s timeout, no key pressed) when the app dies.
        in_menu = await place_call(rest, sandbox.config, Scenario.simple(DID, hold=40))
        leg = inbound_leg_id(in_menu)
        await wait_app(rest, leg, "Stasis", 10)
        await asyncio.sleep(1.0)  # the menu prompt is playing
        app.kill()
        # While the app is down: a caller who waits in the queue 2 s, then hangs up.
        down = await place_call(rest, sandbox.config, Scenario.simple(DID, hold=3))
        await wait_app(rest, inbound_leg_id(down), "Queue", 10)
        assert (await app_location(rest, leg))[0] == "Stasis"  # still parked in Stasis

        async def down_ended() -> bool:
            return not (await app_location(rest, inbound_leg_id(down)))[0]

        await eventually(down_ended, "the call placed while the app is down to end")

        app.start()
        await app.wait_ready()
        # Handed back at once: the fallback route puts the caller into the tenant's queue.
        await wait_app(rest, leg, "Queue", 10)
        assert (await app_location(rest, leg))[1].startswith("q-fk-de,")
        await rest.hangup(in_menu)

        async def rows() -> dict[str, int]:
            async with db.session() as session:
                result = await session.execute(
                    select(Call.linkedid, func.count()).group_by(Call.linkedid)
                )
                return {k: n for k, n in result.all()}

        async def both_stored() -> bool:
            return len(await rows()) >= 2

        await eventually(both_stored, "both call rows")
        stored = await rows()
        assert stored == {in_menu: 1, down: 1}, app.tail()
        async with db.session() as session:
            lost = await session.scalar(select(Call).where(Call.linkedid == down))
        assert lost is not None and lost.outcome == "abandoned"
        assert lost.wait_seconds is not None and lost.wait_seconds >= 1
        assert lost.extra.get("source") == "queue_log"
    finally:
        app.stop()
        await rest.close_session()
        await db.close()


QUEUE_TENANT = """
slug = "fq"
name = "Fault Queue KG"
greeting = "Fault Queue KG"
languages = ["de"]
default_language = "de"
timezone = "Europe/Berlin"
[hours]
{hours}
[[dids]]
number = "{did}"
[routing]
voicemail_box = "fq"
[[routing.queues]]
name = "q-fq-de"
language = "de"
[ivr]
entry = "reception"
receptionist = "reception"
[flows.reception]
type = "queue"
"""
QUEUE_DID = "+49301240002"
MEMBER = "agent96"


async def test_a_call_bridged_across_an_app_restart_gets_a_complete_row(
    pbx_factory: Callable[[], Sandbox], pbx_config: Config, tmp_path: Path
) -> None:
    """Issue #8, defect 5: the app is SIGKILLed while a receptionist talks to the caller and
    comes back before the call ends. Its rebuilt call does not know when the answer was, so
    the row's agent, wait and talk come from Asterisk's queue_log (before: left empty)."""
    sandbox, url = await app_stores(pbx_factory, tmp_path)
    tenants = tmp_path / "t"
    tenants.mkdir()
    (tenants / "fq.toml").write_text(QUEUE_TENANT.format(hours=ALL_WEEK, did=QUEUE_DID))
    port = test_port_base() + 150
    env = app_env(pbx_config, sandbox.config, port=port, database_url=url, tenants=tenants)
    app = AppProcess(env, port, tmp_path / "app.log")
    rest = AriRest.from_config(sandbox.config)
    db = Database(url)
    try:
        app.start()
        await app.wait_ready()

        async def member_ready() -> bool:
            # The queue exists once the app provisioned it; a runtime member answers at once.
            out = await asyncio.to_thread(
                sandbox.cli,
                f"queue add member Local/{MEMBER}@agents/n to q-fq-de penalty 0 as {MEMBER}"
                f" state_interface Custom:{MEMBER}",
            )
            return "Added interface" in out or "Already there" in out

        await eventually(member_ready, "a member in q-fq-de")
        sandbox.cli(f"devstate change Custom:{MEMBER} NOT_INUSE")
        call = await place_call(rest, sandbox.config, Scenario.simple(QUEUE_DID, hold=25))

        async def bridged() -> bool:
            names = [c.name for c in await rest.channels()]
            return any(n.startswith(f"Local/{MEMBER}@agents") for n in names)

        await eventually(bridged, "the receptionist answering")
        await asyncio.sleep(2.0)  # they talk
        app.kill()
        app.start()
        await app.wait_ready()  # back while the call is still up

        async def row() -> Call | None:
            async with db.session() as session:
                return await session.scalar(select(Call).where(Call.linkedid == call))

        async def complete() -> bool:
            r = await row()
            return r is not None and r.talk_seconds is not None

        await eventually(complete, "the row with its talk time", timeout=60)
        stored = await row()
        assert stored is not None and stored.outcome == "answered", app.tail()
        assert stored.agent == MEMBER, stored.agent
        assert stored.wait_seconds is not None and stored.wait_seconds < 10
        assert stored.talk_seconds is not None and stored.talk_seconds >= 10
    finally:
        app.stop()
        await rest.close_session()
        await db.close()
