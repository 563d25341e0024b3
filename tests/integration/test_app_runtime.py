"""A running app on the embedded default (SQLite, no Redis) follows tenant changes made by
another process, publishes their recordings, and shows every queue's parameters (issue #8,
defects 10, 11 and 13).

``callcenter tenants load`` in a second process must reach the running app (the README says
so); queues provisioned after start-up and those added at runtime must show their strategy
and service level in ``/api/live``, not ``""`` and 0.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.config import Config
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from callcenter.pbx.ari.rest import AriRest
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Scenario, inbound_leg_id, place_call
from callcenter.placeholders import generate_placeholders
from tests.integration.apps import (
    CALLCENTER,
    AppProcess,
    app_env,
    app_stores,
    eventually,
    http_get,
    login,
)
from tests.integration.conftest import test_port_base
from tests.integration.test_faults_app import ALL_WEEK, TENANT, wait_app, write_tenant

PASSWORD = "Runtime-Passw0rd!"
NEW_DID = "+49301240002"


async def test_tenants_load_reaches_the_running_app_and_queues_show_their_parameters(
    pbx_factory: Callable[[], Sandbox], pbx_config: Config, tmp_path: Path
) -> None:
    sandbox, url = await app_stores(pbx_factory, tmp_path)
    db = Database(url)
    await UserRepository(db).add("runtime-admin", PASSWORD, "admin")
    await db.close()
    port = test_port_base() + 180
    tenants = write_tenant(tmp_path / "tenants")
    env = app_env(pbx_config, sandbox.config, port=port, database_url=url, tenants=tenants)
    app = AppProcess(env, port, tmp_path / "app.log")
    rest = AriRest.from_config(sandbox.config)
    try:
        app.start()
        await app.wait_ready()
        token = await asyncio.to_thread(login, app, "runtime-admin", PASSWORD)

        def queue(name: str) -> dict[str, Any] | None:
            snap = json.loads(http_get(f"{app.url}/api/live", token))
            found: dict[str, Any] | None = snap["queues"].get(name)
            return found

        async def has_parameters(name: str) -> bool:
            q = await asyncio.to_thread(queue, name)
            return q is not None and q["strategy"] == "rrmemory" and q["service_level"] == 20

        await eventually(lambda: has_parameters("q-fk-de"), "q-fk-de with its parameters")

        second = TENANT.format(hours=ALL_WEEK, did=NEW_DID).replace('"fk"', '"fk2"')
        second = second.replace("q-fk-de", "q-fk2-de").replace('voicemail_box = "fk"', "")
        # Its menu is a tenant recording (defect 10: copied into Asterisk only at start-up).
        second = second.replace('prompts = ["vm-reachoper"]', 'prompts = ["rec:fk2-menu"]')
        recordings = pbx_config.app.data_dir / "recordings"
        generate_placeholders("fk2", {"fk2-menu": {"de": "Willkommen"}}, recordings)
        (tenants / "fk2.toml").write_text(second)
        done = await asyncio.to_thread(
            subprocess.run,
            [str(CALLCENTER), "tenants", "load", "--dir", str(tenants)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        await eventually(
            lambda: has_parameters("q-fk2-de"), "the queue added at runtime, with parameters"
        )
        published = sandbox.sounds_dir / "tenants" / "fk2" / "de"

        async def playable() -> bool:
            return any(published.glob("fk2-menu.*"))

        await eventually(playable, "the new tenant's recording published into Asterisk")
        # The running app routes the new number through its IVR (not the fallback).
        caller = await place_call(rest, sandbox.config, Scenario.simple(NEW_DID, hold=10))
        await wait_app(rest, inbound_leg_id(caller), "Stasis", 10)
        await asyncio.sleep(1.0)
        channel = await rest.channel(inbound_leg_id(caller))
        assert channel.dialplan.app_name == "Stasis", app.tail()
        assert await rest.get_var(inbound_leg_id(caller), "CC_TENANT") == "fk2"
        await rest.hangup(caller)
    finally:
        app.stop()
        await rest.close_session()
