"""A receptionist's phone end to end: provisioned through the API (password shown once),
reloaded into the running PBX, registered by baresip, rung by a queue call that it
answers with RTP both ways, and shown unregistered once it is gone."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from callcenter.pbx.ami.message import Message
from callcenter.pbx.ari import AriClient
from callcenter.pbx.sandbox import Sandbox
from callcenter.services import SERVICES
from composition.app import make_app
from lines.models import Phone
from lines.phones import PhoneSpec, new_password, password_digest, render_phones
from lines.trunks import TrunkSet
from tests.conftest import fresh_database
from tests.integration import sip_carrier, sip_phone
from tests.integration.conftest import SandboxFactory

SPEECH = Path(__file__).parents[1] / "fixtures" / "audio" / "en_librispeech_61-70968-0000.wav"
QUEUE = "q-linestest"
PASSWORD = "a long enough admin password 1"


async def _until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.2)


@pytest.fixture
def phones_db() -> Iterator[str]:
    """A database of this test's own: /healthz reports every phone in it, and the session
    database holds other tests' phones, which are not registered."""
    with fresh_database("cc_phones") as url:
        yield url


async def test_phone_registers_answers_a_queue_call_and_unregisters(
    pbx: Sandbox, pbx_config: Config, phones_db: str, tmp_path: Path
) -> None:
    pg_url = phones_db
    await asyncio.to_thread(migrate.upgrade, pg_url)
    suffix = uuid.uuid4().hex[:6]
    admin = f"admin-{suffix}"
    db = Database(pg_url)
    await UserRepository(db).add(admin, PASSWORD, "admin")
    config = dataclasses.replace(
        pbx_config,
        database=dataclasses.replace(pbx_config.database, url=pg_url),
        lines=dataclasses.replace(pbx_config.lines, status_poll_seconds=0.5),
    )
    pbx.write_generated("queues-linestest.conf", f"[{QUEUE}](cc-queue-defaults)\n")
    await asyncio.to_thread(pbx.reload, "app_queue")
    client: TestClient[Any, Any] = TestClient(TestServer(make_app(config), host="127.0.0.1"))
    await client.start_server()
    services = client.app[SERVICES]
    name = f"desk-{suffix}"
    try:
        login = await client.post("/api/auth/login", json={"username": admin, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {(await login.json())['token']}"}
        bad = await client.post("/api/phones", json={"name": "Anna!"}, headers=headers)
        assert bad.status == 400 and "name" in (await bad.json())["detail"]
        made = await client.post(
            "/api/phones", json={"name": name, "label": "Anna"}, headers=headers
        )
        assert made.status == 201, await made.text()
        creds = (await made.json())["credentials"]
        password = creds["password"]
        assert len(password) >= 24 and creds["username"] == name
        again = await client.post("/api/phones", json={"name": name}, headers=headers)
        assert again.status == 409
        # Shown once: not in the list, not in the database (only its digest).
        listed = await (await client.get("/api/phones", headers=headers)).text()
        assert password not in listed and '"registered": false' in listed
        async with db.session() as session:
            row = await session.scalar(select(Phone).where(Phone.name == name))
        assert row is not None and password not in row.password_digest
        assert row.password_digest.startswith("MD5:")

        async def registered(up: bool) -> bool:
            body = await (await client.get("/api/phones", headers=headers)).json()
            return any(p["name"] == name and p["registered"] is up for p in body["phones"])

        connects: list[Message] = []
        services.require_pbx().ami.add_event_listener(
            lambda m: connects.append(m) if m.get("Event") == "AgentConnect" else None
        )
        with sip_phone.baresip(tmp_path / "phone", name, password, creds["registrar"], SPEECH):
            await _until(lambda: registered(True), 30, "phone registered")
            health = await (await client.get("/healthz")).json()
            phones = next(c for c in health["components"] if c["name"] == "phones")
            assert phones["up"] is True
            reply = await services.require_pbx().ami.send_action(
                "QueueAdd", {"Queue": QUEUE, "Interface": f"PJSIP/{name}", "MemberName": "Anna"}
            )
            assert reply.get("Response") == "Success", reply.headers
            await services.require_pbx().ari.originate(
                f"Local/{QUEUE}@cc-queue",
                context="caller-script",
                extension="s",
                variables={"CC_SIM_STEPS": "p:tt-monkeys^w:6"},
                formats=["alaw"],
            )

            async def answered() -> bool:
                return any(m.get("Interface") == f"PJSIP/{name}" for m in connects)

            await _until(answered, 30, "queue call answered by the phone")
            rx = 0

            async def speech_received() -> bool:
                nonlocal rx
                out = await asyncio.to_thread(pbx.cli, "pjsip show channelstats")
                seen = sip_carrier.rtp_received(out, name[:12])
                if seen is not None:
                    assert seen[0] == "g722", out  # wideband from the desk phone
                    rx = max(rx, seen[1])
                return rx >= 100  # 2 s of the phone's microphone, counted by Asterisk

            await _until(speech_received, 30, "RTP from the phone")
        await _until(lambda: registered(False), 30, "phone shown unregistered")
        health = await (await client.get("/healthz")).json()
        phones = next(c for c in health["components"] if c["name"] == "phones")
        assert phones["up"] is False and f"not registered: {name}" in phones["detail"]
        assert services.require_pbx().live.snapshot()["lines"]["phones"][name]["up"] is False
        gone = await client.delete(f"/api/phones/{name}", headers=headers)
        assert gone.status == 204
        assert name not in await asyncio.to_thread(pbx.cli, "pjsip show endpoints")
    finally:
        await services.require_pbx().ami.send_action(
            "QueueRemove", {"Queue": QUEUE, "Interface": f"PJSIP/{name}"}
        )
        await client.close()
        await db.close()
        pbx.remove_generated("queues-linestest.conf")
        await asyncio.to_thread(pbx.reload, "app_queue")


async def test_console_pickup_asks_an_auto_answer_phone_to_answer(
    pbx: Sandbox, pbx_factory: SandboxFactory, ari: AriClient
) -> None:
    """The carrier instance registers as a phone; a console pickup (cc-pickup, as call
    control redirects a caller) rings it with Call-Info answer-after=0 and Alert-Info."""
    name = f"desk-aa-{uuid.uuid4().hex[:6]}"
    password = new_password()
    spec = PhoneSpec(name, "sip", "AA", "callcenter", password_digest(name, "callcenter", password))
    phone = pbx_factory()
    await asyncio.to_thread(
        sip_carrier.start_carrier, phone, sip_carrier.phone_registration(pbx.config, name, password)
    )
    async with sip_carrier.system_lines(pbx, TrunkSet()) as lines:
        lines.service.set_phones(render_phones([spec], "127.0.0.1"), [name])
        await lines.service.apply()

        async def registered() -> bool:
            await lines.service.poll()
            return lines.service.status.lines[name].up

        await _until(registered, 30, "phone registered")
        phone_ari = AriClient.from_config(phone.config)
        await phone_ari.start()
        try:
            await phone_ari.wait_connected(10.0)
            with phone_ari.subscribe() as events:
                await ari.originate(
                    "Local/s@cc-pickup",
                    context="caller-script",
                    extension="s",
                    variables={"CC_PICKUP_INTERFACE": f"PJSIP/{name}", "CC_SIM_STEPS": "w:5"},
                )
                start = await events.wait_for("StasisStart", timeout=15)
                assert start.channel is not None and start.channel.dialplan.exten == name
                info = await phone_ari.get_var(start.channel.id, "CC_CALL_INFO")
                assert info == "<sip:callcenter.invalid>;answer-after=0", info
                await phone_ari.hangup(start.channel.id)
        finally:
            await phone_ari.close()
