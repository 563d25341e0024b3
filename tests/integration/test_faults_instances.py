"""Several app instances against one Asterisk (issue #8, defect 6; fault suite).

One instance owns the ARI application (database lease), the other stands by and takes over
when the owner is SIGKILLed; callers left in the dead owner's menu are handed back to the
dialplan's route. A process that cannot bind its HTTP port stops before it touches the PBX.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from callcenter.config import Config
from callcenter.pbx.ari.rest import AriRest
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Scenario, inbound_leg_id, place_call
from tests.integration.apps import CALLCENTER, AppProcess, app_env, app_stores
from tests.integration.conftest import test_port_base
from tests.integration.test_faults_app import DID, wait_app, write_tenant

pytestmark = pytest.mark.faults


def ari_detail(app: AppProcess) -> str:
    body = app.health() or {}
    return next((c["detail"] for c in body.get("components", []) if c["name"] == "ari"), "")


async def test_standby_takes_over_when_the_owner_dies(
    pbx_factory: Callable[[], Sandbox], pbx_config: Config, tmp_path: Path
) -> None:
    sandbox, url = await app_stores(pbx_factory, tmp_path)
    tenants = write_tenant(tmp_path / "t")
    base = test_port_base() + 150
    apps = []
    for n in (1, 2):
        env = app_env(pbx_config, sandbox.config, port=base + n, database_url=url, tenants=tenants)
        env["CALLCENTER__PBX__LEASE_TTL"] = "3"
        apps.append(AppProcess(env, base + n, tmp_path / f"app{n}.log"))
    owner, standby = apps
    rest = AriRest.from_config(sandbox.config)
    try:
        owner.start()
        await owner.wait_ready()
        standby.start()
        await standby.wait_ready()
        assert ari_detail(standby).startswith("standby"), ari_detail(standby)
        assert ari_detail(owner).startswith("app "), ari_detail(owner)
        # The owner runs the IVR (the call stays in Stasis, in the menu) and is not replaced.
        first = await place_call(rest, sandbox.config, Scenario.simple(DID, hold=60))
        await wait_app(rest, inbound_leg_id(first), "Stasis", 10)
        await asyncio.sleep(3.5)  # more than a lease period: nothing changes hands
        assert ari_detail(owner).startswith("app ") and ari_detail(standby).startswith("standby")

        owner.kill()
        killed = time.monotonic()

        async def taken_over() -> bool:
            return (await asyncio.to_thread(ari_detail, standby)).startswith("app ")

        while not await taken_over():
            assert time.monotonic() - killed < 15, standby.tail()
            await asyncio.sleep(0.1)
        takeover = time.monotonic() - killed
        # The dead owner's caller is handed back to the dialplan: the tenant's queue.
        await wait_app(rest, inbound_leg_id(first), "Queue", 10)
        # New calls reach the new owner's IVR (not "Stasis app doesn't exist").
        second = await place_call(rest, sandbox.config, Scenario.simple(DID, hold=60))
        await wait_app(rest, inbound_leg_id(second), "Stasis", 10)
        assert takeover < 3 * 1.5 + 2, f"take-over took {takeover:.1f} s"
        print(f"take-over after owner SIGKILL: {takeover:.2f} s")
    finally:
        for app in apps:
            app.stop()
        await rest.close_session()


def test_a_taken_http_port_fails_before_touching_the_pbx(
    pbx_config: Config, tmp_path: Path
) -> None:
    base = test_port_base() + 160
    taken = socket.create_server(("127.0.0.1", base))
    # Stand-ins for AMI and ARI that count connection attempts.
    ami = socket.create_server(("127.0.0.1", base + 1))
    ari = socket.create_server(("127.0.0.1", base + 2))
    for s in (ami, ari):
        s.settimeout(0.5)
    env = app_env(
        pbx_config,
        pbx_config.pbx,
        port=base,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}",
        tenants=tmp_path,
    )
    env["CALLCENTER__PBX__AMI_PORT"] = str(base + 1)
    env["CALLCENTER__PBX__HTTP_PORT"] = str(base + 2)
    try:
        done = subprocess.run(
            [str(CALLCENTER), "serve"],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1
        assert f"cannot listen on 127.0.0.1:{base}" in done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        assert "listening on" not in done.stderr + done.stdout
        for s in (ami, ari):
            with pytest.raises(TimeoutError):
                s.accept()  # nobody ever connected
    finally:
        for s in (taken, ami, ari):
            s.close()
