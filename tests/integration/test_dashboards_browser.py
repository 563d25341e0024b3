"""The web application in a real headless Chromium against the real Asterisk and PostgreSQL.

One app (AMI + live state + agents + call control + CRM + dashboards) on a loopback port;
callers are real ``Local`` channels originated into the tenant queues, receptionists are
auto-answering ``Local/agentNN@agents/n`` phones, staff numbers answer in the test-only
``[cc-transfer-sim]``. Every action is taken in the page (clicks and keyboard shortcuts)
and checked on the PBX, in the database or in the SMTP server's inbox, never on a mock.
The tests also write the screenshots in ``docs/screenshots/`` that the README links.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from callcenter.app import build_app
from callcenter.config import AgentsConfig, Config, DatabaseConfig, SmtpConfig
from callcenter.db import migrate
from callcenter.db.models import Agent, Queue, QueueMember, Tenant
from callcenter.db.users import UserRepository
from callcenter.pbx.ami.client import AmiClient
from callcenter.pbx.sandbox import Sandbox
from callcenter.services import Services, attach_pbx, build_services
from composition.app import wire_features
from crm.models import Note
from dashboards.http import SOCKETS
from ivr.loader import LoadedTenant
from ivr.plugin import TENANTS
from ivr.prompts import PromptSources
from ivr.store import save_tenants
from ivr.tenancy import QueueAlerts
from ivr.tenancy import Tenant as TenantConfig
from tests.conftest import fresh_database
from tests.integration.browser import SCREENSHOTS, chromium, logged_in
from tests.integration.test_agents_pbx import TEST_DIALPLAN, loaded, tenant_doc, until
from tests.integration.test_crm_notes import SmtpReceiver

PASSWORD = "s3cret-Passw0rd"
CALLER = "+4915112345678"
USERS = (
    ("rita", "receptionist", ()),
    ("sam", "supervisor", ()),
    ("ada", "admin", ()),
    ("vic", "tenant", ("db-b",)),
)


@dataclass
class World:
    services: Services
    base_url: str
    ami: AmiClient
    tenant_ids: dict[str, int]
    smtp: SmtpReceiver
    pbx: Sandbox
    http: ClientSession
    app: web.Application

    async def call(self, queue: str, tenant: str, name: str = "Erika") -> str:
        """A caller waiting in ``queue``; returns its linkedid once the live state has it."""
        linkedid = f"ui-{uuid.uuid4().hex[:12]}"
        reply = await self.ami.send_action(
            "Originate",
            {
                "Channel": f"Local/{queue}@cc-test-inbound/n",
                "Context": "cc-test-caller",
                "Exten": "s",
                "Priority": "1",
                "ChannelId": linkedid,
                "OtherChannelId": f"{linkedid}-in",
                "CallerID": f"{name} <{CALLER}>",
                "Variable": f"_CC_T={tenant}",
                "Async": "true",
            },
        )
        assert reply.get("Response") == "Success", reply
        return linkedid

    def phase(self, linkedid: str) -> str | None:
        call = self.services.require_pbx().live.state.calls.get(linkedid)
        return call.phase if call is not None else None

    async def channels(self) -> list[dict[str, str]]:
        events = await self.ami.send_list_action("CoreShowChannels")
        return [dict(m.headers) for m in events if m.name == "CoreShowChannel"]

    async def hangup(self, linkedid: str) -> None:
        for c in await self.channels():
            if c.get("Linkedid") == linkedid:
                await self.ami.send_action("Hangup", {"Channel": c["Channel"]})

    async def api(self, token: str, path: str, body: Any = None) -> tuple[int, Any]:
        """GET ``path``, or POST ``body`` to it as JSON."""
        headers = {"Authorization": f"Bearer {token}"}
        url = self.base_url + path
        request = (
            self.http.get(url, headers=headers)
            if body is None
            else self.http.post(url, json=body, headers=headers)
        )
        async with request as resp:
            return resp.status, await resp.json()

    async def log_out_of_queues(self, *usernames: str) -> None:
        """Receptionists out of the queues (an earlier test may have left them in)."""
        for username in usernames:
            async with self.http.post(
                self.base_url + "/api/agents/me/logout",
                headers={"Authorization": f"Bearer {await self.token(username)}"},
            ) as resp:
                assert resp.status == 200, await resp.text()

    async def token(self, username: str) -> str:
        async with self.http.post(
            self.base_url + "/api/auth/login", json={"username": username, "password": PASSWORD}
        ) as resp:
            return str((await resp.json())["token"])


HANDLING = "Always put through to Dr. Weber"


@pytest.fixture(scope="module")
def dash_db() -> Iterator[str]:
    """A database of this module's own (its users and tenants would clash with others')."""
    with fresh_database("cc_dash") as url:
        yield url


@pytest.fixture(scope="module")
async def world(
    pbx: Sandbox, pbx_config: Config, dash_db: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    url = dash_db
    if True:
        await asyncio.to_thread(migrate.upgrade, url)
        pbx.write_generated("extensions-cc-test.conf", TEST_DIALPLAN)
        pbx.reload("pbx_config")
        for n in (81, 82):
            pbx.cli(f"devstate change Custom:agent{n} NOT_INUSE")
        smtp = SmtpReceiver()
        await smtp.start()
        config = dataclasses.replace(
            pbx_config,
            database=DatabaseConfig(url=url),
            agents=AgentsConfig(
                transfer_trunk="carrier-test", pause_reasons="break,lunch,wrapup", wrapup_seconds=4
            ),
            smtp=SmtpConfig(host="127.0.0.1", port=smtp.port, timeout=5.0),
        )
        sources = PromptSources.for_pbx_root(config.pbx.root, tmp_path_factory.mktemp("rec"))
        items = loaded(
            sources,
            tenant_doc("db-a", "dba", "+49 30 5550300"),
            tenant_doc("db-b", "dbb", "+49 30 5550400"),
        )
        services = build_services(config)
        async with services.db.session() as session:
            await save_tenants(session, items)
        users = UserRepository(services.db)
        ids = {
            name: (
                await users.add(name, PASSWORD, role, display_name=name.title(), tenant_slugs=slugs)
            ).id
            for name, role, slugs in USERS
        }
        async with services.db.session() as session:
            queues = {q.name: q.id for q in (await session.scalars(select(Queue))).all()}
            tenant_ids = {t.slug: t.id for t in (await session.scalars(select(Tenant))).all()}
            for user, n in (("rita", 81), ("sam", 82)):
                position = Agent(
                    user_id=ids[user],
                    interface=f"Local/agent{n}@agents/n",
                    state_interface=f"Custom:agent{n}",
                    name=user.title(),
                )
                session.add(position)
                await session.flush()
                session.add(QueueMember(queue_id=queues["q-dba-de"], agent_id=position.id))
        attach_pbx(services)
        wire_features(services)  # every feature, as `callcenter serve` wires them
        app = build_app(services)
        ami = AmiClient.from_config(config.pbx, events=False)
        await ami.start()
        await ami.wait_connected(10)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        base_url = f"http://127.0.0.1:{server.port}"
        try:
            async with ClientSession() as http:
                await services.require_pbx().ami.wait_connected(10)
                queue_tenants = services.require_pbx().live.state.queue_tenants
                await until(lambda: queue_tenants.get("q-dbb-en") == "db-b", what="provisioned")
                world = World(services, base_url, ami, tenant_ids, smtp, pbx, http, app)
                token = await world.token("ada")
                async with http.post(
                    f"{base_url}/api/crm/tenants/{tenant_ids['db-a']}/contacts",
                    json={
                        "display_name": "Erika Mustermann",
                        "numbers": [{"number": CALLER, "type": "mobile"}],
                        "notes": HANDLING,
                        "vip": True,
                    },
                    headers={"Authorization": f"Bearer {token}"},
                ) as resp:
                    assert resp.status == 201, await resp.text()
                yield world
        finally:
            await server.close()
            await ami.close()
            await smtp.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


# ---------------------------------------------------------------------------- log in


@pytest.mark.parametrize(
    ("username", "home", "heading"),
    [
        ("rita", "/ui/console", "Calls"),
        ("sam", "/ui/wallboard", "Wallboard"),
        ("ada", "/ui/wallboard", "Wallboard"),
        ("vic", "/ui/worklists", "Worklists"),
    ],
)
async def test_each_role_logs_in_to_its_home_page(
    world: World, browser: Browser, username: str, home: str, heading: str
) -> None:
    context, page = await logged_in(browser, world.base_url, username, PASSWORD)
    try:
        assert page.url.endswith(home)
        await expect(page.locator("h1").first).to_contain_text(heading)
        await page.click("#logout")
        await page.wait_for_url("**/login")
        await page.goto(home)
        assert "/login?next=" in page.url  # the session is gone
    finally:
        await context.close()


async def test_wrong_password_is_refused_on_the_page(world: World, browser: Browser) -> None:
    context = await browser.new_context(base_url=world.base_url)
    page = await context.new_page()
    try:
        await page.goto("/")  # the app's URL leads a browser to the login page
        assert page.url.endswith("/login?next=/ui") or page.url.endswith("/login")
        await page.fill("#username", "rita")
        await page.fill("#password", "not the password")
        await page.click("button[type=submit]")
        await expect(page.locator("#login-error")).to_contain_text("wrong username or password")
        assert "/login" in page.url
    finally:
        await context.close()


async def test_language_switch_and_preference(world: World, browser: Browser) -> None:
    context, page = await logged_in(browser, world.base_url, "rita", PASSWORD, locale="en-GB")
    try:
        await expect(page.locator("#calls-title")).to_have_text("Calls")
        await page.select_option("#lang-switch", "de")
        await page.wait_for_load_state()
        await expect(page.locator("#calls-title")).to_have_text("Anrufe")
        assert await page.get_attribute("html", "lang") == "de"
    finally:
        await context.close()
    # The choice is the user's preference: a fresh English browser gets German too.
    context, page = await logged_in(browser, world.base_url, "rita", PASSWORD, locale="en-GB")
    try:
        await expect(page.locator("#calls-title")).to_have_text("Anrufe")
        await page.select_option("#lang-switch", "en")
        await expect(page.locator("#calls-title")).to_have_text("Calls")
    finally:
        await context.close()


# ---------------------------------------------------------------------------- live calls

APPEARED_AT = """(linkedid) => new Promise((resolve) => {
  const id = "call-" + linkedid.replace(/[^A-Za-z0-9_-]/g, "_");
  const seen = () => document.getElementById(id);
  if (seen()) return resolve(Date.now());
  new MutationObserver((_, obs) => {
    if (seen()) { obs.disconnect(); resolve(Date.now()); }
  }).observe(document.body, { childList: true, subtree: true });
})"""


def card(page: Page, linkedid: str) -> Any:
    return page.locator(f'article.call[data-linkedid="{linkedid}"]')


async def test_a_call_rings_on_the_console_and_the_wallboard(
    world: World, browser: Browser
) -> None:
    """The card appears (measured in the page) within a second of the live state having the
    call, on the console and on the wallboard's queue tile."""
    rita_ctx, console = await logged_in(browser, world.base_url, "rita", PASSWORD)
    sam_ctx, board = await logged_in(browser, world.base_url, "sam", PASSWORD)
    linkedid = ""
    try:
        await console.wait_for_function("window.ccLive && window.ccLive.connected", polling=100)
        await board.wait_for_function("window.ccLive && window.ccLive.connected", polling=100)
        tile = board.locator("#tile-q-dba-de .waiting")
        before = int(await tile.inner_text())
        linkedid = await world.call("q-dba-de", "db-a")
        appeared = asyncio.ensure_future(console.evaluate(APPEARED_AT, linkedid))
        await until(lambda: world.phase(linkedid) in ("queued", "ringing"), what="queued")
        # QueueCallerJoin's own Timestamp (the PBX runs on this machine's clock)
        queued_at = world.services.require_pbx().live.state.calls[linkedid].queued_at
        seen_at = await asyncio.wait_for(appeared, 5) / 1000.0
        assert seen_at - queued_at < 1.0, f"card {seen_at - queued_at:.3f} s after the event"
        on_card = card(console, linkedid)
        await expect(on_card).to_contain_text("Db-A")  # answer as: the tenant's name
        await expect(on_card).to_contain_text(CALLER)
        await expect(on_card.locator(".state")).to_have_text("Waiting")
        await expect(tile).to_have_text(str(before + 1), timeout=1000)
        # the CRM screen pop: contact name and VIP on the card, handling notes in the pane
        await expect(on_card).to_contain_text("Erika Mustermann", timeout=5000)
        await expect(on_card.locator(".vip-badge")).to_be_visible()
        await on_card.click()
        await expect(console.locator("#detail-body .handling")).to_contain_text(HANDLING)
        await world.hangup(linkedid)
        await expect(on_card).to_have_count(0, timeout=5000)
        await expect(tile).to_have_text(str(before), timeout=5000)
    finally:
        if linkedid:
            await world.hangup(linkedid)
        await rita_ctx.close()
        await sam_ctx.close()


async def test_the_receptionist_answers_holds_transfers_and_takes_a_note(
    world: World, browser: Browser
) -> None:
    context, page = await logged_in(browser, world.base_url, "rita", PASSWORD)
    linkedid = ""
    try:
        await page.wait_for_function("window.ccLive && window.ccLive.connected", polling=100)
        linkedid = await world.call("q-dba-de", "db-a", name="Erika")
        on_card = card(page, linkedid)
        await expect(on_card.locator(".state")).to_have_text("Waiting")
        await page.keyboard.press("a")  # answer the longest-waiting call
        await expect(on_card.locator(".state")).to_have_text("On call", timeout=10000)
        assert world.phase(linkedid) == "answered"
        await page.keyboard.press("h")
        await expect(on_card.locator(".state")).to_have_text("On hold", timeout=5000)
        contexts = {c["Context"] for c in await world.channels() if c["Linkedid"] == linkedid}
        assert "cc-hold" in contexts  # the caller hears music on the PBX
        await on_card.get_by_role("button", name="Retrieve").click()
        await expect(on_card.locator(".state")).to_have_text("On call", timeout=5000)

        # a telephone note from the card: stored and e-mailed to the staff member
        await page.keyboard.press("n")
        dialog = page.locator("#dlg-note")
        await expect(dialog).to_be_visible()
        assert await page.input_value("#note-number") == CALLER
        await page.fill("#note-recipient", "Bernd Boss")
        await page.fill("#note-email", "bernd@example.org")
        await page.fill("#note-subject", "Offer for the new building")
        await page.fill("#note-message", "Please call back before Friday.")
        await page.check("#note-callback")
        await page.click("#note-send")
        await expect(dialog).to_be_hidden(timeout=5000)
        async with world.services.db.session() as session:
            note = await session.scalar(
                select(Note).where(Note.subject == "Offer for the new building")
            )
        assert (
            note is not None and note.callback_wanted and note.tenant_id == world.tenant_ids["db-a"]
        )
        await until(lambda: len(world.smtp.messages) > 0, what="note e-mailed")
        assert "Offer for the new building" in str(world.smtp.messages[-1]["Subject"])

        # a callback from the card: through the callbacks API, on the worklist (open in
        # another tab before: it shows the new callback without a reload)
        worklist = await context.new_page()
        await worklist.goto("/ui/worklists?tenant=db-a")
        await page.bring_to_front()
        await page.keyboard.press("c")
        await expect(page.locator("#dlg-callback")).to_be_visible()
        assert await page.input_value("#callback-number") == CALLER
        await page.fill("#callback-note", "wants the offer")
        await page.locator("#dlg-callback button.primary").click()
        await expect(page.locator("#dlg-callback")).to_be_hidden(timeout=5000)
        token = await world.token("rita")
        status, listed = await world.api(token, "/api/callbacks?tenant=db-a")
        assert status == 200
        assert any(c["number"] == CALLER and c["queue"] == "q-dba-de" for c in listed["callbacks"])
        await expect(worklist.locator("#callback-rows")).to_contain_text(CALLER)
        # one made elsewhere (another receptionist, the API) shows within its refresh
        status, made = await world.api(
            token,
            "/api/callbacks",
            {"tenant": "db-a", "queue": "q-dba-de", "number": "+493055501234"},
        )
        assert status in (200, 201), made
        await expect(worklist.locator("#callback-rows")).to_contain_text(
            "+493055501234", timeout=15000
        )
        await worklist.close()

        # blind transfer to the staff directory, searched as you type
        await page.keyboard.press("t")
        await expect(page.locator("#dlg-transfer")).to_be_visible()
        await page.fill("#staff-search", "bern")
        await expect(page.locator("#staff-list li")).to_have_count(1)
        await expect(page.locator("#staff-list li[aria-selected=true]")).to_contain_text(
            "Bernd Boss"
        )
        await page.keyboard.press("Enter")
        await expect(page.locator("#dlg-transfer")).to_be_hidden(timeout=5000)

        async def staff_bridged() -> bool:
            chans = await world.channels()
            staff = [c for c in chans if "cc-test-staff" in c["Channel"] and c.get("BridgeId")]
            mine = [c for c in chans if c.get("Linkedid") == linkedid and c.get("BridgeId")]
            return any(s["BridgeId"] == m["BridgeId"] for s in staff for m in mine)

        from tests.integration.test_agents_pbx import until_async

        await until_async(staff_bridged, what="caller bridged with the staff member")
    finally:
        if linkedid:
            await world.hangup(linkedid)
        await context.close()


async def test_a_refused_action_says_why_on_the_card(world: World, browser: Browser) -> None:
    context, page = await logged_in(browser, world.base_url, "rita", PASSWORD)
    linkedid = ""
    try:
        linkedid = await world.call("q-dba-de", "db-a")
        on_card = card(page, linkedid)
        await expect(on_card).to_be_visible(timeout=5000)
        await on_card.click()
        await page.keyboard.press("p")  # park a call nobody has answered: refused
        await expect(on_card.locator(".error")).to_contain_text("only a connected or held call")
    finally:
        if linkedid:
            await world.hangup(linkedid)
        await context.close()


# ---------------------------------------------------------------------------- tenants


async def test_a_tenant_viewer_sees_only_its_own_tenant(world: World, browser: Browser) -> None:
    a_id, b_id = world.tenant_ids["db-a"], world.tenant_ids["db-b"]
    context, page = await logged_in(browser, world.base_url, "vic", PASSWORD)
    try:
        # in the browser: own worklists yes, the other tenant's no, no live console
        await expect(page.locator("h1").first).to_contain_text("Db-B")
        assert await page.locator("#wl-tenant").count() == 0  # one tenant: no chooser
        response = await page.goto("/ui/worklists?tenant=db-a")
        assert response is not None and response.status == 404
        assert "Db-A" not in await page.content()
        response = await page.goto("/ui/console")
        assert response is not None and response.status == 403
        response = await page.goto("/ui/reports/today")
        assert response is not None and response.status == 200
        assert "q-dba-de" not in await page.content() and "q-dbb-de" in await page.content()
        refused = await page.evaluate(
            """() => new Promise((resolve) => {
                 const ws = new WebSocket(location.origin.replace("http", "ws") +
                                          "/ws/live?view=console");
                 ws.onopen = () => resolve("open");
                 ws.onerror = () => resolve("refused");
               })"""
        )
        assert refused == "refused"
        # at the API, with the same session cookie the page has
        for path, expected in (
            (f"/api/crm/tenants/{a_id}/notes", 404),
            (f"/api/crm/tenants/{a_id}/contacts", 404),
            (f"/api/crm/tenants/{b_id}/notes", 200),
        ):
            status = await page.evaluate(
                "async (p) => (await fetch(p, {credentials: 'same-origin'})).status", path
            )
            assert status == expected, path
    finally:
        await context.close()
    token = await world.token("vic")
    linkedid = await world.call("q-dba-de", "db-a")
    try:
        await until(lambda: world.phase(linkedid) == "queued", what="queued")
        status, snap = await world.api(token, "/api/live")
        assert status == 200
        assert linkedid not in snap["calls"] and "q-dba-de" not in snap["queues"]
        status, _ = await world.api(token, "/api/ivr/tenants/db-a")
        assert status == 404
    finally:
        await world.hangup(linkedid)


async def test_supervisor_listens_in_and_it_is_audited(world: World, browser: Browser) -> None:
    """Listen on a receptionist's call from the wallboard: the supervisor's phone runs
    ChanSpy on the PBX, and the admin reads the entry in the audit log page."""
    rita, console = await logged_in(browser, world.base_url, "rita", PASSWORD)
    sam, board = await logged_in(browser, world.base_url, "sam", PASSWORD)
    linkedid = ""
    try:
        await console.get_by_role("button", name="Log in to the queues").click()
        await expect(console.locator("#me-state")).to_have_attribute("data-state", "ready")
        row = board.locator('.agent[data-interface="Local/agent81@agents/n"]')
        await expect(row).to_have_attribute("data-state", "ready", timeout=5000)
        linkedid = await world.call("q-dba-de", "db-a")  # the queue rings Rita's phone
        on_card = card(console, linkedid)
        await expect(on_card.locator(".state")).to_have_text("On call", timeout=10000)
        await expect(row).to_have_attribute("data-state", "on_call", timeout=10000)
        await row.get_by_role("button", name="Listen").click()

        async def spying() -> bool:
            return any(c.get("Application") == "ChanSpy" for c in await world.channels())

        from tests.integration.test_agents_pbx import until_async

        await until_async(spying, what="ChanSpy on the PBX")
    finally:
        if linkedid:
            await world.hangup(linkedid)
        for c in await world.channels():
            if c.get("Application") == "ChanSpy":
                await world.ami.send_action("Hangup", {"Channel": c["Channel"]})
        await console.get_by_role("button", name="Log out of the queues").click()
        await expect(console.locator("#me-state")).to_have_attribute("data-state", "logged_out")
        await rita.close()
        await sam.close()
    ada, page = await logged_in(browser, world.base_url, "ada", PASSWORD)
    try:
        await page.goto("/ui/audit?action=call.listen")
        await expect(page.locator("table.list tbody tr").first).to_contain_text("sam")
        await expect(page.locator("table.list tbody tr").first).to_contain_text("Rita")
    finally:
        await ada.close()


# ---------------------------------------------------------------------------- screenshots


@pytest.mark.parametrize("lang", ["en", "de"])
async def test_screenshots(world: World, browser: Browser, lang: str) -> None:
    """docs/screenshots/{console,wallboard,report}-{en,de}.png with live calls on them."""
    locale = "de-DE" if lang == "de" else "en-GB"
    rita, console = await logged_in(browser, world.base_url, "rita", PASSWORD, locale=locale)
    sam, board = await logged_in(browser, world.base_url, "sam", PASSWORD, locale=locale)
    calls: list[str] = []
    try:
        # Rita is logged in and on a break: the queue keeps the new calls waiting
        await console.locator('#me-state [data-agent-op="login"]').click()
        await expect(console.locator("#me-state")).to_have_attribute("data-state", "ready")
        await console.locator('#me-state [data-agent-op="pause"]').click()
        await expect(console.locator("#me-state")).to_have_attribute("data-state", "paused")
        first = await world.call("q-dba-de", "db-a", name="Erika")
        calls.append(first)
        await expect(card(console, first)).to_be_visible(timeout=5000)
        await card(console, first).get_by_role("button").first.click()  # answer
        await expect(card(console, first)).to_have_attribute(
            "data-phase", "answered", timeout=10000
        )
        for tenant, queue, name in (("db-a", "q-dba-de", "Erika"), ("db-b", "q-dbb-de", "John")):
            calls.append(await world.call(queue, tenant, name=name))
        for linkedid in calls[1:]:
            await expect(card(console, linkedid)).to_be_visible(timeout=5000)
        await card(console, calls[1]).click()
        await expect(console.locator("#detail-body .caller-pane")).to_be_visible()
        await console.wait_for_timeout(1200)  # the timers show real seconds
        await shoot(console, f"console-{lang}")
        await expect(board.locator("#tile-q-dba-de .waiting")).to_have_text("1", timeout=5000)
        await board.wait_for_timeout(1200)
        await shoot(board, f"wallboard-{lang}")
        report, page = await logged_in(browser, world.base_url, "sam", PASSWORD, locale=locale)
        await page.goto("/ui/reports/today")
        await page.wait_for_timeout(300)
        await shoot(page, f"report-{lang}")
        await report.close()
    finally:
        for linkedid in calls:
            await world.hangup(linkedid)
        await console.locator('#me-state [data-agent-op="logout"]').click()
        await expect(console.locator("#me-state")).to_have_attribute("data-state", "logged_out")
        await rita.close()
        await sam.close()


async def test_supervisor_moves_a_waiting_call_and_park_shows_the_slot(
    world: World, browser: Browser
) -> None:
    sam, page = await logged_in(browser, world.base_url, "sam", PASSWORD)
    linkedid = ""
    try:
        await page.goto("/ui/console")
        linkedid = await world.call("q-dba-de", "db-a")
        on_card = card(page, linkedid)
        await expect(on_card).to_be_visible(timeout=5000)
        await on_card.get_by_role("button", name="Move").click()
        await page.select_option("#move-queue", "q-dba-en")
        await page.locator("#dlg-move button.primary").click()
        await expect(page.locator("#dlg-move")).to_be_hidden(timeout=5000)
        await until(
            lambda: world.services.require_pbx().live.state.calls[linkedid].queue == "q-dba-en",
            what="moved to q-dba-en",
        )
        await expect(on_card.locator(".facts")).to_contain_text("q-dba-en", timeout=5000)
        # receptionists may not move calls: the same API says no
        rita_token = await world.token("rita")
        async with world.http.post(
            f"{world.base_url}/api/calls/{linkedid}/move",
            json={"queue": "q-dba-de"},
            headers={"Authorization": f"Bearer {rita_token}"},
        ) as resp:
            assert resp.status == 403
        # answer (sam has a phone), park: the card shows the parking slot; retrieve it
        await on_card.get_by_role("button", name="Answer").click()
        await expect(on_card).to_have_attribute("data-phase", "answered", timeout=10000)
        await on_card.get_by_role("button", name="Park").click()
        await expect(on_card.locator(".slot")).to_have_text(re.compile(r"^\d+$"), timeout=5000)
        await on_card.get_by_role("button", name="Retrieve from parking").click()
        await expect(on_card.locator(".slot")).to_have_count(0, timeout=10000)
        await expect(on_card.locator(".state")).to_have_text("On call", timeout=10000)
    finally:
        if linkedid:
            await world.hangup(linkedid)
        await sam.close()


async def test_a_lost_connection_shows_a_banner_and_resyncs(world: World, browser: Browser) -> None:
    context, page = await logged_in(browser, world.base_url, "rita", PASSWORD)
    linkedid = ""
    try:
        await page.wait_for_function("window.ccLive && window.ccLive.connected", polling=100)
        opens = await page.evaluate("window.ccLive.opens")
        await context.set_offline(True)  # new connections fail from now on
        sockets: set[web.WebSocketResponse] = world.app[SOCKETS]
        for ws in list(sockets):  # and the open one drops (a server restart)
            await ws.close(code=1012, message=b"restart")
        await expect(page.locator("#conn-banner")).to_be_visible(timeout=10000)
        linkedid = await world.call("q-dba-de", "db-a")  # while the page is cut off
        await until(lambda: world.phase(linkedid) == "queued", what="queued")
        assert await card(page, linkedid).count() == 0
        await context.set_offline(False)
        await expect(page.locator("#conn-banner")).to_be_hidden(timeout=15000)
        await expect(card(page, linkedid)).to_be_visible(timeout=5000)  # re-synced
        assert await page.evaluate("window.ccLive.opens") > opens
    finally:
        if linkedid:
            await world.hangup(linkedid)
        await context.close()


async def test_kiosk_mode_has_no_controls(world: World, browser: Browser) -> None:
    rita, console = await logged_in(browser, world.base_url, "rita", PASSWORD)
    sam, board = await logged_in(browser, world.base_url, "sam", PASSWORD)
    try:
        await board.goto("/ui/wallboard?kiosk=1")
        assert await board.locator("header.top").count() == 0  # no navigation, no account
        await console.get_by_role("button", name="Log in to the queues").click()
        row = board.locator('.agent[data-interface="Local/agent81@agents/n"]')
        await expect(row).to_be_visible(timeout=5000)
        await expect(row.get_by_role("button", name="Log out")).to_be_hidden()
        size = await board.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 20  # large type for a wall screen
    finally:
        await console.get_by_role("button", name="Log out of the queues").click()
        await rita.close()
        await sam.close()


NOT_ALERTED = """q => { const box = document.querySelector('#wb-alert');
  return box.hidden || !box.textContent.includes(q); }"""


async def test_queue_thresholds_from_the_tenant_turn_the_tile_red_and_alert(
    world: World, browser: Browser
) -> None:
    """The tenant's own thresholds for one queue (a tenant reload, as `tenants load` does):
    a caller waiting past them turns that tile red in the page and raises the alert, with
    no further event from the PBX (the page's timer follows the thresholds)."""
    registry = world.services.require(TENANTS)
    before = registry.tenants()

    def with_alerts(tenant: TenantConfig) -> TenantConfig:
        if tenant.slug != "db-a":
            return tenant
        queues = tuple(
            # Only the wait can turn it red (today's service level of the earlier tests'
            # calls must not): amber below 1 %, red below 0 %.
            dataclasses.replace(q, alerts=QueueAlerts(wait=(2.0, 4.0), service_level=(1.0, 0.0)))
            if q.name == "q-dba-de"
            else q
            for q in tenant.routing.queues
        )
        return dataclasses.replace(
            tenant, routing=dataclasses.replace(tenant.routing, queues=queues)
        )

    sam_ctx, board = await logged_in(browser, world.base_url, "sam", PASSWORD)
    linkedid = ""
    await world.log_out_of_queues("rita", "sam")  # the caller must wait
    try:
        registry.replace([LoadedTenant(with_alerts(t), ()) for t in before])
        await board.wait_for_function("window.ccLive && window.ccLive.connected", polling=100)
        tile = board.locator("#tile-q-dba-de")
        await expect(tile.locator(".metric[data-red='4']")).to_have_count(1, timeout=5000)
        other = board.locator("#tile-q-dbb-en .metric[data-red='60']")
        await expect(other).to_have_count(1)  # the other tenant keeps the defaults
        await expect(tile).not_to_have_attribute("data-level", "red")
        await board.wait_for_function(NOT_ALERTED, arg="q-dba-de", polling=200)
        linkedid = await world.call("q-dba-de", "db-a")
        await until(lambda: world.phase(linkedid) == "queued", what="queued")
        await expect(tile).to_have_attribute("data-level", "red", timeout=15000)
        await expect(board.locator("#wb-alert")).to_contain_text("q-dba-de")
        await world.hangup(linkedid)
        await expect(tile).not_to_have_attribute("data-level", "red", timeout=10000)
        await board.wait_for_function(NOT_ALERTED, arg="q-dba-de", polling=200, timeout=5000)
    finally:
        registry.replace([LoadedTenant(t, ()) for t in before])
        if linkedid:
            await world.hangup(linkedid)
        await sam_ctx.close()


async def test_wrapup_returns_to_ready_by_itself_and_offline_staff_stay_listed(
    world: World, browser: Browser
) -> None:
    """Wrap-up from the console counts down and ends by itself (agents.wrapup_seconds = 4
    here): the console and the wallboard show the receptionist ready again, and app_queue
    has the member unpaused. Logged out, the receptionist stays on the wallboard, offline."""
    rita_ctx, console = await logged_in(browser, world.base_url, "rita", PASSWORD)
    sam_ctx, board = await logged_in(browser, world.base_url, "sam", PASSWORD)
    interface = "Local/agent81@agents/n"
    await world.log_out_of_queues("rita")
    try:
        await console.wait_for_function("window.ccLive && window.ccLive.connected", polling=100)
        row = board.locator(f'.agent[data-interface="{interface}"]')
        await expect(row).to_have_attribute("data-state", "logged_out", timeout=10000)
        await expect(row).to_contain_text("Offline")
        me = console.locator("#me-state")
        await console.get_by_role("button", name="Log in to the queues").click()
        await expect(me).to_have_attribute("data-state", "ready", timeout=5000)
        await console.locator('[data-agent-op="wrapup"]').click()
        await expect(me).to_have_attribute("data-state", "wrapup", timeout=5000)
        await expect(me.locator(".wrapup-left .countdown")).to_be_visible()
        await expect(row).to_have_attribute("data-state", "wrapup", timeout=5000)
        # No click: the wrap-up ends after its configured time.
        await expect(me).to_have_attribute("data-state", "ready", timeout=20000)
        await expect(row).to_have_attribute("data-state", "ready", timeout=5000)
        members = await world.ami.send_list_action("QueueStatus", {"Member": interface})
        paused = [m.get("Paused") for m in members if m.name == "QueueMember"]
        assert paused and set(paused) == {"0"}, paused
        await console.get_by_role("button", name="Log out of the queues").click()
        await expect(row).to_have_attribute("data-state", "logged_out", timeout=5000)
        await expect(row).to_contain_text("Offline")
    finally:
        with contextlib.suppress(Exception):
            await console.get_by_role("button", name="Log out of the queues").click(timeout=2000)
        await rita_ctx.close()
        await sam_ctx.close()
