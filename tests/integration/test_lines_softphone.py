"""The browser softphone end to end: headless Chromium (fake microphone) loads the page
over HTTPS (self-signed certificate accepted), registers over the app's wss:// relay to
Asterisk's WebSocket transport, is rung by a queue call, answers, and Asterisk counts the
RTP packets (DTLS-SRTP) arriving from the browser."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web
from playwright.async_api import async_playwright

from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from callcenter.pbx.sandbox import Sandbox
from callcenter.services import SERVICES
from composition.app import make_app
from composition.serve import ssl_context
from tests.integration import sip_carrier
from tests.integration.browser import CHROMIUM, FLAGS
from tests.integration.conftest import test_port_base

QUEUE = "q-webrtctest"
PASSWORD = "a long enough admin password 1"
WEBRTC_FLAGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]


async def _until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.2)


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (what the demo makes, too)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_browser_softphone_registers_answers_a_queue_call_and_sends_rtp(
    pbx: Sandbox, pbx_config: Config, pg_url: str, tmp_path: Path
) -> None:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    suffix = uuid.uuid4().hex[:6]
    admin = f"admin-{suffix}"
    db = Database(pg_url)
    await UserRepository(db).add(admin, PASSWORD, "admin")
    await db.close()
    cert, key = await asyncio.to_thread(_certificate, tmp_path)
    config = dataclasses.replace(
        pbx_config,
        app=dataclasses.replace(pbx_config.app, tls_cert_file=str(cert), tls_key_file=str(key)),
        database=dataclasses.replace(pbx_config.database, url=pg_url),
        lines=dataclasses.replace(
            pbx_config.lines, status_poll_seconds=0.5, webrtc_networks="127.0.0.0/8"
        ),
    )
    pbx.write_generated("queues-webrtctest.conf", f"[{QUEUE}](cc-queue-defaults)\n")
    await asyncio.to_thread(pbx.reload, "app_queue")
    app = make_app(config)
    runner = web.AppRunner(app)
    await runner.setup()
    port = test_port_base() + 120
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context(config))
    await site.start()
    base = f"https://127.0.0.1:{port}"
    services = app[SERVICES]
    name = f"web-{suffix}"
    try:
        async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(ssl=False)) as http:
            login = await http.post(
                "/api/auth/login", json={"username": admin, "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {(await login.json())['token']}"}
            made = await http.post(
                "/api/phones", json={"name": name, "kind": "webrtc"}, headers=headers
            )
            assert made.status == 201, await made.text()
            password = (await made.json())["credentials"]["password"]

            async def registered() -> bool:
                body = await (await http.get("/api/phones", headers=headers)).json()
                return any(p["name"] == name and p["registered"] for p in body["phones"])

            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=CHROMIUM, args=[*FLAGS, *WEBRTC_FLAGS]
                )
                context = await browser.new_context(base_url=base, ignore_https_errors=True)
                page = await context.new_page()
                resp = await context.request.post(
                    "/api/auth/login", data={"username": admin, "password": PASSWORD}
                )
                assert resp.ok, await resp.text()
                await page.goto("/ui/password")  # any console page: the header links it
                assert await page.locator('header a[href="/softphone"]').count() == 1
                await page.goto("/softphone")
                await page.fill("#sip-user", name)
                await page.fill("#sip-password", password)
                await page.click("#register")
                await page.wait_for_selector("#status[data-state=registered]", timeout=30000)
                await _until(registered, 20, "softphone registered in /api/phones")

                reply = await services.require_pbx().ami.send_action(
                    "QueueAdd", {"Queue": QUEUE, "Interface": f"PJSIP/{name}"}
                )
                assert reply.get("Response") == "Success", reply.headers
                await services.require_pbx().ari.originate(
                    f"Local/{QUEUE}@cc-queue",
                    context="caller-script",
                    extension="s",
                    variables={"CC_SIM_STEPS": "p:tt-monkeys^w:8"},
                    formats=["alaw"],
                )
                await page.wait_for_selector("#status[data-state=ringing]", timeout=30000)
                await page.click("#answer")
                await page.wait_for_selector("#status[data-state=in-call]", timeout=30000)
                seen: tuple[str, int] | None = None

                async def rtp_from_browser() -> bool:
                    nonlocal seen
                    out = await asyncio.to_thread(pbx.cli, "pjsip show channelstats")
                    seen = sip_carrier.rtp_received(out, name) or seen
                    return seen is not None and seen[1] >= 100

                await _until(rtp_from_browser, 30, "RTP from the browser counted by Asterisk")
                assert seen is not None and seen[0] == "opus", seen
                await page.click("#hangup")
                await page.wait_for_selector("#status[data-state=registered]", timeout=10000)
                await browser.close()
            gone = await http.delete(f"/api/phones/{name}", headers=headers)
            assert gone.status == 204
    finally:
        await services.require_pbx().ami.send_action(
            "QueueRemove", {"Queue": QUEUE, "Interface": f"PJSIP/{name}"}
        )
        await runner.cleanup()
        pbx.remove_generated("queues-webrtctest.conf")
        await asyncio.to_thread(pbx.reload, "app_queue")
        async with sip_carrier.system_lines(pbx, sip_carrier.TrunkSet()):
            pass  # the shared instance without this test's phone
