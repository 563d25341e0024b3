"""Fixtures for tests against the real Asterisk sandbox.

One Asterisk instance per test session (instance ``CALLCENTER_TEST_INSTANCE``, default
``test``; ports from ``CALLCENTER_TEST_PORT_BASE``, default 15000: AMI base+38, HTTP/ARI
base+88, SIP base+60, RTP base+1000..base+1999), so parallel sessions of different
developers do not collide when they pick different bases and instance names.

Fixtures: ``pbx_config`` (Config with secrets), ``pbx`` (a started Sandbox), ``ari`` (a
connected ARI client with its events websocket open, fresh per test), ``pbx_factory``
(extra, unstarted instances on free ports for tests that kill or restart Asterisk: the
shared ``pbx`` must never be killed, other tests' queue members and state live in it).
Tests that use any of them get the ``pbx`` marker automatically.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from callcenter.config import Config, load_config
from callcenter.pbx.sandbox import Sandbox

if TYPE_CHECKING:
    from callcenter.pbx.ami.client import AmiClient
    from callcenter.pbx.ari import AriClient

PBX_FIXTURES = {"pbx", "ari", "pbx_factory"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PBX_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.pbx)


def test_port_base() -> int:
    return int(os.environ.get("CALLCENTER_TEST_PORT_BASE", "15000"))


test_port_base.__test__ = False  # type: ignore[attr-defined]


def test_instance_name(base: int) -> str:
    """``CALLCENTER_TEST_INSTANCE``, else ``test`` (``test_<base>`` for a non-default base:
    the fixture stops a running instance of its own name, so sessions on other port bases
    must never share it)."""
    name = os.environ.get("CALLCENTER_TEST_INSTANCE")
    if name:
        return name
    return "test" if base == 15000 else f"test_{base}"


test_instance_name.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def pbx_config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """The Config every PBX test uses (credentials generated into a session data dir)."""
    base = test_port_base()
    data_dir = tmp_path_factory.mktemp("pbx-data")
    config = load_config(
        None,
        env={},
        overrides={
            "app": {"data_dir": str(data_dir)},
            "pbx": {
                "instance": test_instance_name(base),
                "ami_port": base + 38,
                "http_port": base + 88,
                "sip_port": base + 60,
                "rtp_start": base + 1000,
                "rtp_end": base + 1999,
                "boot_timeout": 60.0,
            },
        },
    )
    return config.with_secrets()


_SESSION_PBX: list[Sandbox] = []  # the shared instance, once the ``pbx`` fixture made it

# Which module reads a generated file, by the file's name (templates include by prefix).
_RELOAD_FOR = {
    "extensions": "pbx_config",
    "queues": "app_queue",
    "pjsip": "res_pjsip",
    "voicemail": "app_voicemail",
}


@pytest.fixture(scope="session")
def pbx(pbx_config: Config) -> Iterator[Sandbox]:
    """A freshly rendered, started Asterisk instance; stopped at the end of the session."""
    sandbox = Sandbox(pbx_config.pbx, pbx_config.app.data_dir)
    sandbox.down()  # a previous session that crashed may have left this instance running
    sandbox.reset()  # no generated files, astdb or recordings from earlier sessions
    sandbox.up()
    _SESSION_PBX.append(sandbox)
    try:
        yield sandbox
    finally:
        _SESSION_PBX.clear()
        sandbox.down()


def _generated(sandbox: Sandbox) -> dict[str, bytes]:
    gen = sandbox.instance_dir / "etc" / "generated"
    if not gen.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in gen.iterdir() if p.is_file()}


@pytest.fixture(scope="module", autouse=True)
def _generated_files_restored() -> Iterator[None]:
    """Every test module leaves the shared PBX's generated files as it found them.

    A module's dialplan, queues or endpoints must not change what later modules' calls do:
    a leftover catch-all ``[cc-transfer-sim] _+X.`` once sent every later transfer to a
    test extension instead of the carrier trunk (an order-dependent failure)."""
    before = _generated(_SESSION_PBX[0]) if _SESSION_PBX else {}
    yield
    if not _SESSION_PBX or os.environ.get("DBG_NO_RESTORE"):
        return
    sandbox = _SESSION_PBX[0]
    after = _generated(sandbox)
    gen = sandbox.instance_dir / "etc" / "generated"
    touched: set[str] = set()
    for name in after.keys() - before.keys():
        (gen / name).unlink(missing_ok=True)
        touched.add(name)
    for name, data in before.items():
        if after.get(name) != data:
            sandbox.write_generated(name, data.decode("utf-8"))
            touched.add(name)
    modules = {m for prefix, m in _RELOAD_FOR.items() for n in touched if n.startswith(prefix)}
    if modules and sandbox.running():
        for module in sorted(modules):
            sandbox.reload(module)


@pytest.fixture
async def ari(pbx: Sandbox, pbx_config: Config) -> AsyncIterator[AriClient]:
    """An ARI client for ``pbx_config.pbx.ari_app`` with the events websocket connected."""
    from callcenter.pbx.ari import AriClient

    if not pbx.running():  # a fault test may have killed it
        pbx.up()
    client = AriClient.from_config(pbx_config.pbx)
    await client.start()
    try:
        await client.wait_connected(timeout=10.0)
        yield client
    finally:
        await client.close()


@pytest.fixture
async def ami(pbx: Sandbox, pbx_config: Config) -> AsyncIterator[AmiClient]:
    """An AMI client of the session's Asterisk, logged in."""
    from callcenter.pbx.ami.client import AmiClient

    if not pbx.running():  # the reconnect test kills it
        pbx.up()
    client = AmiClient.from_config(pbx_config.pbx)
    await client.start()
    try:
        await client.wait_connected(15)
        yield client
    finally:
        await client.close()


SandboxFactory = Callable[[], Sandbox]


@pytest.fixture
def pbx_factory(pbx_config: Config) -> Iterator[SandboxFactory]:
    """Make extra Asterisk instances (not started) on ports base+300.., stopped afterwards.

    Call ``pbx_factory()`` up to 7 times per test; each gets its own instance name and ports.
    """
    made: list[Sandbox] = []

    def make() -> Sandbox:
        n = len(made) + 1
        if n > 7:
            raise RuntimeError("pbx_factory: at most 7 extra instances per test")
        base = test_port_base() + 200 + n * 100
        cfg = dataclasses.replace(
            pbx_config.pbx,
            instance=f"{pbx_config.pbx.instance}_x{n}",
            ami_port=base + 38,
            http_port=base + 88,
            sip_port=base + 60,
            rtp_start=base + 2,
            rtp_end=base + 30,
        )
        sandbox = Sandbox(cfg, pbx_config.app.data_dir)
        sandbox.down()
        sandbox.reset()
        made.append(sandbox)
        return sandbox

    try:
        yield make
    finally:
        for sandbox in made:
            sandbox.down()
            sandbox.reset()
