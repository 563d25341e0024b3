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
from playwright.async_api import async_playwright, expect

from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.models import Agent
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from callcenter.pbx.sandbox import Sandbox
from callcenter.services import SERVICES
from composition.app import make_app
from composition.serve import ssl_context
from tests.integration import sip_carrier
from tests.integration.browser import CHROMIUM, FLAGS, logged_in
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
                # A console pickup asks with answer-after=0: the page answers by itself.
                await services.require_pbx().ari.originate(
                    "Local/s@cc-pickup",
                    context="caller-script",
                    extension="s",
                    variables={"CC_PICKUP_INTERFACE": f"PJSIP/{name}", "CC_SIM_STEPS": "w:20"},
                )
                await page.wait_for_selector("#status[data-state=in-call]", timeout=30000)
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


CONSOLE_QUEUE = "q-consolephone"


async def test_console_embeds_the_softphone_shows_its_registration_answers_and_hangs_up(
    pbx: Sandbox, pbx_config: Config, pg_url: str
) -> None:
    """The receptionist whose position is a browser phone opens the console: its softphone
    registers by itself (no password typed: the position's digest), the phone badge turns
    "registered" live; a queue call rings it, key A answers it in the console, audio flows
    (Asterisk counts the browser's RTP), the console's Hang up ends it; a console pickup is
    answered by the panel by itself; disconnecting turns the badge "not registered" live."""
    await asyncio.to_thread(migrate.upgrade, pg_url)
    suffix = uuid.uuid4().hex[:6]
    admin, clerk = f"admin-{suffix}", f"rx-{suffix}"
    name = f"cweb-{suffix}"
    db = Database(pg_url)
    users = UserRepository(db)
    await users.add(admin, PASSWORD, "admin")
    clerk_id = (await users.add(clerk, PASSWORD, "receptionist", display_name="Rx")).id
    config = dataclasses.replace(
        pbx_config,
        database=dataclasses.replace(pbx_config.database, url=pg_url),
        lines=dataclasses.replace(
            pbx_config.lines, status_poll_seconds=0.5, webrtc_networks="127.0.0.0/8"
        ),
    )
    pbx.write_generated("queues-consolephone.conf", f"[{CONSOLE_QUEUE}](cc-queue-defaults)\n")
    await asyncio.to_thread(pbx.reload, "app_queue")
    app = make_app(config)
    runner = web.AppRunner(app)
    await runner.setup()
    port = test_port_base() + 121
    await web.TCPSite(runner, "127.0.0.1", port).start()  # http://127.0.0.1: a secure context
    base = f"http://127.0.0.1:{port}"
    services = app[SERVICES]
    ami = services.require_pbx().ami
    try:
        async with aiohttp.ClientSession(base) as http:
            login = await http.post(
                "/api/auth/login", json={"username": admin, "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {(await login.json())['token']}"}
            made = await http.post(
                "/api/phones", json={"name": name, "kind": "webrtc"}, headers=headers
            )
            assert made.status == 201, await made.text()
            async with db.session() as session:
                session.add(Agent(user_id=clerk_id, interface=f"PJSIP/{name}", name="Rx"))
            other = await (await http.get("/api/softphone", headers=headers)).json()
            assert other["phone"] is None  # the admin has no position: nobody else's digest
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=CHROMIUM, args=[*FLAGS, *WEBRTC_FLAGS]
                )
                context, page = await logged_in(browser, base, clerk, PASSWORD)
                assert page.url.endswith("/ui/console")
                panel = page.locator("#softphone")
                await expect(panel).to_be_visible(timeout=10000)
                await expect(panel).to_have_attribute("data-state", "registered", timeout=30000)
                badge = page.locator("#phone-badge")
                await expect(badge).to_have_attribute("data-phone", "registered", timeout=15000)

                reply = await ami.send_action(
                    "QueueAdd", {"Queue": CONSOLE_QUEUE, "Interface": f"PJSIP/{name}"}
                )
                assert reply.get("Response") == "Success", reply.headers
                await services.require_pbx().ari.originate(
                    f"Local/{CONSOLE_QUEUE}@cc-queue",
                    context="caller-script",
                    extension="s",
                    variables={"CC_SIM_STEPS": "p:tt-monkeys^w:20"},
                    formats=["alaw"],
                )
                await expect(panel).to_have_attribute("data-state", "ringing", timeout=30000)
                await page.keyboard.press("a")  # the console's answer key
                await expect(panel).to_have_attribute("data-state", "in-call", timeout=30000)
                await expect(panel.locator(".sp-status")).to_have_text("In call")
                seen: tuple[str, int] | None = None

                async def rtp_from_browser() -> bool:
                    nonlocal seen
                    out = await asyncio.to_thread(pbx.cli, "pjsip show channelstats")
                    seen = sip_carrier.rtp_received(out, name) or seen
                    return seen is not None and seen[1] >= 100

                await _until(rtp_from_browser, 30, "RTP from the console's softphone")
                assert seen is not None and seen[0] == "opus", seen
                await panel.locator("[data-sp=hangup]").click()
                await expect(panel).to_have_attribute("data-state", "registered", timeout=10000)

                async def phone_idle() -> bool:
                    events = await ami.send_list_action("CoreShowChannels")
                    return not any(
                        (m.get("Channel") or "").startswith(f"PJSIP/{name}-") for m in events
                    )

                await _until(phone_idle, 10, "the phone's channel gone after Hang up")
                # A console pickup (call control redirects the caller into cc-pickup, as
                # the card's Answer does): answer-after=0, so the panel answers by itself.
                await services.require_pbx().ari.originate(
                    "Local/s@cc-pickup",
                    context="caller-script",
                    extension="s",
                    variables={"CC_PICKUP_INTERFACE": f"PJSIP/{name}", "CC_SIM_STEPS": "w:20"},
                )
                await expect(panel).to_have_attribute("data-state", "in-call", timeout=30000)
                await panel.locator("[data-sp=hangup]").click()
                await expect(panel).to_have_attribute("data-state", "registered", timeout=10000)
                await _until(phone_idle, 10, "the phone's channel gone after the pickup")
                await panel.locator("[data-sp=disconnect]").click()
                await expect(panel).to_have_attribute("data-state", "idle", timeout=10000)
                await expect(badge).to_have_attribute("data-phone", "unregistered", timeout=15000)
                await context.close()
                await browser.close()
            gone = await http.delete(f"/api/phones/{name}", headers=headers)
            assert gone.status == 204
    finally:
        await ami.send_action("QueueRemove", {"Queue": CONSOLE_QUEUE, "Interface": f"PJSIP/{name}"})
        await runner.cleanup()
        await db.close()
        pbx.remove_generated("queues-consolephone.conf")
        await asyncio.to_thread(pbx.reload, "app_queue")
        async with sip_carrier.system_lines(pbx, sip_carrier.TrunkSet()):
            pass
