"""A scripted day of calls on the real Asterisk 22: report figures = queue_log = QueueParams.

Eleven calls in parallel (about 15 s of wall time) through queues generated for this test:
answered fast and slow, abandoned short and long, a queue timeout, an overflow to a second
queue, a timeout to voicemail, a callback taken out of the queue (QueueWithdrawCaller), a
call refused by a queue nobody serves (joinempty), and one call of a second tenant. The
live state stores the call rows, the rollups follow as calls end, and then:

* every figure of the JSON report equals what this test counts on its own from Asterisk's
  ``queue_log`` (a parser written here, not stats.reconcile);
* ``QueueParams`` agree once Asterisk's way is applied: it counts a queue *timeout* and a
  caller withdrawn for a callback as Abandoned, we count ``timeout`` and ``diverted``;
* ``callcenter stats reconcile`` finds no difference;
* the billing XLSX read back has the right totals;
* a tenant viewer gets only its own figures through the API (404 for the other tenant).
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from callbacks.models import CallbackRequest
from callbacks.store import CallbackRepository, NewCallback
from callcenter import auth
from callcenter.bus import InProcessBus
from callcenter.config import Config
from callcenter.db import migrate
from callcenter.db.calls import CallRepository
from callcenter.db.models import Tenant
from callcenter.db.session import Database
from callcenter.db.users import UserRepository
from callcenter.pbx.ami.client import AmiClient
from callcenter.pbx.ari.rest import AriRest
from callcenter.pbx.sandbox import Sandbox
from callcenter.pbx.simulate import Scenario, Wait, place_call
from callcenter.services import ObservedCalls
from callcenter.state.live import LiveState
from callcenter.state.service import LiveStateService
from stats import http as stats_http
from stats import reconcile
from stats.definitions import Settings
from stats.rollups import RollupUpdater, save_settings

pytestmark = [pytest.mark.pbx, pytest.mark.postgres]

SL = 6  # service level threshold of tenant A (and servicelevel= of its queues)
SHORT = 2  # short-abandon threshold
BILLABLE = 3  # an answered call is billed from 3 s of talk
PASSWORD = "stats-Test-Passw0rd"
Client = TestClient[web.Request, web.Application]


@dataclass(frozen=True)
class Plan:
    name: str
    queue: str  # first queue (suffix added)
    stay: float  # seconds the caller stays after the PBX answers
    timeout: int = 60  # Queue() timeout in the first queue
    then: str = ""  # overflow queue, "voicemail", or nothing
    tenant: str = "a"


PLANS = [
    Plan("fast-1", "qa-fast", 20),
    Plan("fast-2", "qa-fast", 20),
    Plan("slow", "qa-slow", 25),
    Plan("abandon-short", "qa-wait", 1.3),
    Plan("abandon-long", "qa-wait", 4.5),
    Plan("timeout", "qa-wait", 20, timeout=3),
    Plan("overflow", "qa-wait", 20, timeout=2, then="qa-over"),
    Plan("voicemail", "qa-wait", 20, timeout=2, then="voicemail"),
    Plan("callback", "qa-wait", 20),
    Plan("blocked", "qa-closed", 5),
    Plan("tenant-b", "qb-fast", 20, tenant="b"),
]
# agent -> (queue, ring seconds, talk seconds)
AGENTS = {
    "f1": ("qa-fast", 1, 4),
    "f2": ("qa-fast", 1, 1),
    "s1": ("qa-slow", 9, 4),
    "o1": ("qa-over", 1, 4),
    "b1": ("qb-fast", 1, 2),
}


@dataclass
class Day:
    sfx: str
    db: Database
    tenants: dict[str, int]
    slugs: dict[str, str]
    calls: dict[str, str]  # plan name -> linkedid
    pbx: Sandbox
    ami: AmiClient
    client: Client
    tokens: dict[str, str]

    def q(self, base: str) -> str:
        return f"{base}-{self.sfx}"

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def _generated(sfx: str) -> tuple[str, str]:
    queues = []
    for base in ("qa-fast", "qa-slow", "qa-wait", "qa-over", "qa-closed", "qb-fast"):
        lines = [f"[{base}-{sfx}](cc-queue-defaults)", f"servicelevel = {SL}"]
        if base == "qa-closed":
            lines.append("joinempty = no")
        for agent, (queue, _, _) in AGENTS.items():
            if queue == base:
                name = f"agent{agent}{sfx}"
                lines.append(f"member => Local/{name}@agents/n,0,{agent.upper()},Custom:{name}")
        queues.append("\n".join(lines))
    ext = f"""[st-in-{sfx}]
exten => _[+0-9].,1,Set(CC_TENANT=${{ST_TENANT}})
 same => n,Answer()
 same => n,Queue(${{ST_Q1}},,,,${{ST_T1}})
 same => n,GotoIf($["${{QUEUESTATUS}}"="WITHDRAW"]?cb)
 same => n,GotoIf($["${{ST_NEXT}}"="voicemail"]?vm)
 same => n,GotoIf($["${{ST_NEXT}}"!=""]?over)
 same => n,Hangup()
 same => n(over),Queue(${{ST_NEXT}},,,,30)
 same => n,Hangup()
 same => n(vm),Set(CC_OUTCOME=voicemail)
 same => n,Playback(beep)
 same => n,Wait(1)
 same => n,Hangup()
 same => n(cb),Set(CC_OUTCOME=callback)
 same => n,Hangup()
"""
    return "\n\n".join(queues) + "\n", ext


async def _until(check: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
async def day(pbx: Sandbox, pbx_config: Config, pg_url: str) -> AsyncIterator[Day]:
    await asyncio.to_thread(migrate.upgrade, pg_url)
    db = Database(pg_url)
    sfx = uuid.uuid4().hex[:6]
    async with db.session() as s:
        rows = {k: Tenant(slug=f"st-{k}-{sfx}", name=f"Tenant {k.upper()}") for k in "ab"}
        s.add_all(rows.values())
        await s.flush()
        tenants = {k: t.id for k, t in rows.items()}
    slugs = {k: f"st-{k}-{sfx}" for k in "ab"}
    for k in "ab":
        await save_settings(db, tenants[k], Settings(SL, SHORT, BILLABLE, 0))
    users = UserRepository(db)
    await users.add(f"st-admin-{sfx}", PASSWORD, "admin")
    await users.add(f"st-recep-{sfx}", PASSWORD, "receptionist")
    await users.add(f"st-viewer-{sfx}", PASSWORD, "tenant", tenant_slugs=[slugs["a"]])

    queues_conf, ext_conf = _generated(sfx)
    pbx.write_generated(f"queues-st{sfx}.conf", queues_conf)
    pbx.write_generated(f"extensions-st{sfx}.conf", ext_conf)
    await asyncio.to_thread(pbx.reload, "app_queue")
    await asyncio.to_thread(pbx.reload, "pbx_config")
    for agent, (_, ring, talk) in AGENTS.items():
        name = f"agent{agent}{sfx}"
        pbx.cli(f"devstate change Custom:{name} NOT_INUSE")
        pbx.cli(f"dialplan set global CC_AGENT_RING_SECONDS_{name} {ring}")
        pbx.cli(f"dialplan set global CC_AGENT_TALK_SECONDS_{name} {talk}")

    c = pbx_config.pbx
    ami = AmiClient(c.host, c.ami_port, c.ami_username, c.ami_secret, ping_interval=1.0)
    updater = RollupUpdater(db, delay=0.1)
    service = LiveStateService(
        ami,
        LiveState(region="DE"),
        InProcessBus(),
        ObservedCalls(CallRepository(db), updater.call_stored),
    )
    await updater.start()
    await service.start()
    await ami.start()
    await ami.wait_connected(15)
    await _until(lambda: _true(service.resyncs >= 1), "the first resync")
    ari = AriRest(f"http://{c.host}:{c.http_port}", c.ari_username, c.ari_password, c.ari_app)
    app = web.Application()
    auth.setup(app, db)
    stats_http.setup(app)
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    tokens = {}
    for who in ("admin", "recep", "viewer"):
        resp = await client.post(
            "/api/auth/login", json={"username": f"st-{who}-{sfx}", "password": PASSWORD}
        )
        tokens[who] = (await resp.json())["token"]
    try:
        calls = await _run_day(
            pbx_config=pbx_config, ari=ari, ami=ami, db=db, sfx=sfx, slugs=slugs, service=service
        )
        await updater.flush(15)
        yield Day(sfx, db, tenants, slugs, calls, pbx, ami, client, tokens)
    finally:
        await client.close()
        await ari.close_session()
        await service.close()
        await updater.close()
        await ami.close()
        await db.close()
        pbx.remove_generated(f"queues-st{sfx}.conf")
        pbx.remove_generated(f"extensions-st{sfx}.conf")
        await asyncio.to_thread(pbx.reload, "app_queue")
        await asyncio.to_thread(pbx.reload, "pbx_config")


async def _true(value: bool) -> bool:
    return value


async def _run_day(
    *,
    pbx_config: Config,
    ari: AriRest,
    ami: AmiClient,
    db: Database,
    sfx: str,
    slugs: dict[str, str],
    service: LiveStateService,
) -> dict[str, str]:
    config = dataclasses.replace(pbx_config.pbx, inbound_context=f"st-in-{sfx}")
    calls: dict[str, str] = {}
    for n, plan in enumerate(PLANS):
        variables = {
            "ST_TENANT": slugs[plan.tenant],
            "ST_Q1": f"{plan.queue}-{sfx}",
            "ST_T1": str(plan.timeout),
            "ST_NEXT": f"{plan.then}-{sfx}" if plan.then.startswith("q") else plan.then,
        }
        scenario = Scenario(
            f"+4930777{n:04d}",
            f"+4917100{n:04d}",
            plan.name,
            steps=(Wait(plan.stay),),
            inbound_variables=variables,
        )
        calls[plan.name] = await place_call(ari, config, scenario)
        await asyncio.sleep(0.15)
    # The callback: once the caller waits in qa-wait, take it out as the callback feature
    # does (QueueWithdrawCaller), and store its request as the IVR's callback store does.
    leg = f"{calls['callback']}-in"
    queue = f"qa-wait-{sfx}"

    async def waiting() -> str | None:
        q = service.state.queues.get(queue)
        entry = q.waiting.get(leg) if q is not None else None
        return entry.channel if entry is not None else None

    channel = await _until(waiting, "the callback caller in the queue")
    await asyncio.sleep(1.0)
    await ami.send_action(
        "QueueWithdrawCaller",
        {"Queue": queue, "Caller": channel, "WithdrawInfo": "callback"},
        check=True,
    )
    asked = datetime.now(UTC)
    request_id = await CallbackRepository(db).add(
        NewCallback(slugs["a"], "+4917112345678", queue, "de", calls["callback"], asked)
    )
    # The callback is worked 90 s later (the dialler's own tests cover dialling it).
    async with db.session() as session:
        await session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == request_id)
            .values(status="done", done_at=asked + timedelta(seconds=90))
        )
    repo = CallRepository(db)

    async def all_rows() -> bool:
        return all([await repo.get(linkedid) is not None for linkedid in calls.values()])

    await _until(all_rows, "a row for every call", timeout=60)
    return calls


def _queue_log(day: Day) -> list[list[str]]:
    lines = day.pbx.queue_log.read_text().splitlines()
    return [p for p in (ln.split("|") for ln in lines) if len(p) >= 5 and p[2].endswith(day.sfx)]


def independent_counts(day: Day) -> dict[str, Any]:
    """Figures counted straight from queue_log lines (no code shared with stats)."""
    per_queue: dict[str, Counter[str]] = defaultdict(Counter)
    by_call: dict[str, list[list[str]]] = defaultdict(list)
    agents: dict[str, Counter[str]] = defaultdict(Counter)
    talk: dict[str, float] = {}
    for p in _queue_log(day):
        queue, verb = p[2].removesuffix(f"-{day.sfx}"), p[4]
        per_queue[queue][verb] += 1
        by_call[p[1]].append(p)
        if verb == "CONNECT":
            agents[p[3]]["answered"] += 1
            if int(p[5]) <= SL:
                per_queue[queue]["in_sl"] += 1
        if verb == "ABANDON" and int(p[7]) < SHORT:
            per_queue[queue]["short"] += 1
        if verb in ("COMPLETEAGENT", "COMPLETECALLER"):
            talk[p[1]] = float(p[6])
            agents[p[3]]["billable"] += float(p[6]) >= BILLABLE
            agents[p[3]]["talk"] += int(p[6])
    tenant_a: Counter[str] = Counter()
    for callid, events in by_call.items():
        if not events[0][2].startswith("qa-"):
            continue
        verbs = [e[4] for e in events]
        tenant_a["offered"] += 1
        waits = [int(e[5]) for e in events if e[4] == "CONNECT"]
        waits += [int(e[7]) for e in events if e[4] in ("ABANDON", "EXITWITHTIMEOUT")]
        if "CONNECT" in verbs:
            tenant_a["answered"] += 1
            tenant_a["in_sl"] += sum(waits) <= SL
            tenant_a["billable"] += talk.get(callid, 0) >= BILLABLE
            tenant_a["talk"] += int(talk.get(callid, 0))
        elif verbs[-1] == "ABANDON":
            tenant_a["abandoned"] += 1
            tenant_a["short"] += sum(waits) < SHORT
        elif verbs[-1] == "EXITWITHTIMEOUT":
            tenant_a["timeout_exit"] += 1
        else:
            tenant_a["other:" + verbs[-1]] += 1
    return {"queues": per_queue, "tenant_a": tenant_a, "agents": agents}


async def report(day: Day, tenant: str, who: str = "admin") -> dict[str, Any]:
    url = f"/api/stats/tenants/{day.tenants[tenant]}/report?period=day"
    resp = await day.client.get(url, headers=day.h(who))
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def test_report_equals_queue_log_counts(day: Day) -> None:
    pbx = independent_counts(day)
    rep = await report(day, "a")
    t, ind = rep["totals"], pbx["tenant_a"]
    # The overflow call is one call for the tenant (QueueMetrics' multi-stint rule).
    assert t["offered"] == ind["offered"] + t["blocked"] == 10
    assert t["answered"] == ind["answered"] == 4
    assert t["answered_in_sl"] == ind["in_sl"] == 3  # fast ×2 and overflow; slow waited 9 s
    assert t["abandoned"] == ind["abandoned"] == 2
    assert t["abandoned_short"] == ind["short"] == 1
    # A queue timeout that goes to voicemail is a diverted call; queue_log only sees the exit.
    assert t["timeout"] + t["voicemail"] == ind["timeout_exit"] == 2
    assert (t["timeout"], t["voicemail"], t["callback"], t["blocked"]) == (1, 1, 1, 1)
    assert t["diverted"] == 2 and ind["other:WITHDRAW"] == 1  # voicemail + callback
    assert t["billable"] == ind["billable"] == 3  # fast-2's agent talks 1 s
    assert abs(t["talk"] - ind["talk"]) <= 4 * 1.0  # whole seconds in queue_log
    assert t["service_level"] == round(3 / (10 - 1), 4)
    assert t["service_level_all"] == round(3 / 10, 4)
    assert t["service_level_answered"] == 0.75
    assert t["abandon_rate"] == 0.2
    assert t["longest_wait"] >= 8.5  # the slow call
    assert rep["callbacks"]["requested"] == rep["callbacks"]["completed"] == 1
    assert rep["callbacks"]["time_to_callback"] == 90.0
    # Each queue's own legs, straight from its queue_log verbs.
    for base, fig in rep["queues"].items():
        qlog = pbx["queues"][base.removesuffix(f"-{day.sfx}")]
        # A caller refused at the door (joinempty) never enters: queue_log logs nothing.
        assert fig["offered"] - fig["blocked"] == qlog["ENTERQUEUE"], base
        assert fig["answered"] == qlog["CONNECT"], base
        assert fig["abandoned"] == qlog["ABANDON"], base
        assert fig["abandoned_short"] == qlog["short"], base
        assert fig["timeout"] == qlog["EXITWITHTIMEOUT"], base
        assert fig["answered_in_sl"] == qlog["in_sl"], base
    assert rep["queues"][day.q("qa-wait")]["offered"] == 6
    assert rep["queues"][day.q("qa-over")]["answered"] == 1
    assert rep["queues"][day.q("qa-closed")]["blocked"] == 1
    # Receptionists: answered and billable per member name as queue_log has them.
    assert set(rep["receptionists"]) == set(pbx["agents"]) - {"B1"}
    for name, fig in rep["receptionists"].items():
        assert fig["answered"] == pbx["agents"][name]["answered"], name
        assert fig["billable"] == pbx["agents"][name]["billable"], name
    assert sum(sum(row) for row in rep["heatmap"]["offered"]) == 10
    assert sum(p["offered"] for p in rep["trend"]) == 10
    assert rep["definitions"]["timeout"].startswith("Left by the queue's timeout")


async def test_queue_params_agree_the_asterisk_way(day: Day) -> None:
    rep = await report(day, "a")
    for base, fig in rep["queues"].items():
        [params] = [
            m
            for m in await day.ami.send_list_action("QueueStatus", {"Queue": base})
            if m.name == "QueueParams"
        ]
        ours = reconcile.queue_params_view(fig)
        assert int(params["Completed"]) == ours["Completed"], (base, params.headers)
        # Asterisk's Abandoned: every unanswered exit (timeouts and the callback withdrawal
        # too); ours keeps abandoned, timeout and diverted apart and adds them up for this.
        assert int(params["Abandoned"]) == ours["Abandoned"], (base, params.headers)
        if fig["answered"]:
            perf = float(params["ServicelevelPerf"])
            assert perf == pytest.approx(100 * fig["service_level_answered"], abs=0.1), base


async def test_reconcile_with_queue_log_finds_no_difference(day: Day) -> None:
    lines = day.pbx.queue_log.read_text().splitlines()
    start = datetime.fromtimestamp(time.time() - 3600, UTC)
    end = datetime.fromtimestamp(time.time() + 60, UTC)
    result = await reconcile.reconcile(day.db, lines, start, end, tenant_id=day.tenants["a"])
    assert result.ok, result.as_dict()["differences"]
    assert result.matched == result.legs_pbx == 10  # 9 calls, the overflow one has 2 legs


async def test_billing_xlsx_reads_back_with_the_right_totals(day: Day) -> None:
    rep = (await report(day, "a"))["totals"]
    month = datetime.now(UTC).strftime("%Y-%m")
    url = f"/api/stats/tenants/{day.tenants['a']}/billing?month={month}&format=xlsx"
    resp = await day.client.get(url, headers=day.h("viewer"))
    assert resp.status == 200
    wb = openpyxl.load_workbook(io.BytesIO(await resp.read()), data_only=True)
    sheet = wb["Days"]
    header = [c.value for c in sheet[2]]
    total = next(r for r in sheet.iter_rows(values_only=True) if r[0] == "total")
    got = dict(zip(header, total, strict=True))
    assert got["Answered"] == rep["answered"] == 4
    assert got["Billable calls"] == rep["billable"] == 3
    assert got["Handled seconds"] == round(rep["handled"])
    assert got["Voicemails"] == 1 and got["Callbacks"] == 1
    # The SUM formulas in the sheet add up the day lines to the same totals.
    formulas = openpyxl.load_workbook(io.BytesIO(await resp.read()))["Days"]
    row = next(r for r in formulas.iter_rows() if r[0].value == "total")
    assert str(row[2].value).startswith("=SUM(")
    names = [r[0] for r in wb["Receptionists"].iter_rows(min_row=2, values_only=True)]
    assert set(names) == set(rep_names := (await report(day, "a"))["receptionists"]) and rep_names


async def test_tenant_viewer_sees_only_its_own_figures(day: Day) -> None:
    own = await report(day, "a", "viewer")
    assert own["totals"]["answered"] == 4
    other = f"/api/stats/tenants/{day.tenants['b']}/report"
    resp = await day.client.get(other, headers=day.h("viewer"))
    assert resp.status == 404
    for path in ("abandoned", "billing?format=csv", "settings"):
        resp = await day.client.get(
            f"/api/stats/tenants/{day.tenants['b']}/{path}", headers=day.h("viewer")
        )
        assert resp.status == 404, path
    resp = await day.client.get(
        f"/api/stats/tenants/{day.tenants['a']}/report", headers=day.h("recep")
    )
    assert resp.status == 403
    assert (await report(day, "b"))["totals"]["answered"] == 1  # staff see tenant B
    resp = await day.client.put(
        f"/api/stats/tenants/{day.tenants['a']}/settings",
        json={"service_level_seconds": 10},
        headers=day.h("viewer"),
    )
    assert resp.status == 403


async def test_receptionists_over_all_tenants_for_managers_only(day: Day) -> None:
    resp = await day.client.get("/api/stats/receptionists?period=day", headers=day.h("admin"))
    people = (await resp.json())["receptionists"]
    mine = {k: v for k, v in people.items() if k in ("F1", "F2", "S1", "O1", "B1")}
    assert {k: v["answered"] for k, v in mine.items()} == {k: 1 for k in mine} and len(mine) == 5
    assert mine["B1"]["answered_per_tenant"] == {str(day.tenants["b"]): 1}
    resp = await day.client.get("/api/stats/receptionists", headers=day.h("viewer"))
    assert resp.status == 403
    resp = await day.client.get("/api/stats/receptionists?timezone=Mars", headers=day.h("admin"))
    assert resp.status == 400 and (await resp.json())["field"] == "timezone"


async def test_abandoned_list_and_bad_input(day: Day) -> None:
    url = f"/api/stats/tenants/{day.tenants['a']}/abandoned?period=day"
    resp = await day.client.get(url, headers=day.h("viewer"))
    calls = (await resp.json())["calls"]
    assert sorted(c["linkedid"] for c in calls) == sorted(
        [day.calls["abandon-short"], day.calls["abandon-long"]]
    )
    assert [c["short"] for c in sorted(calls, key=lambda c: c["wait"])] == [True, False]
    for query, field in (
        ("period=year", "period"),
        ("period=day&date=2026-02-30", "date"),
        ("period=custom&from=2026-01-01", "to"),
        ("limit=0", "limit"),
    ):
        resp = await day.client.get(
            f"/api/stats/tenants/{day.tenants['a']}/abandoned?{query}", headers=day.h("admin")
        )
        assert resp.status == 400 and (await resp.json())["field"] == field, query
    # Billing without a period: the month parameter alone (once answered 500 on "null").
    resp = await day.client.get(
        f"/api/stats/tenants/{day.tenants['a']}/billing?month=null", headers=day.h("admin")
    )
    assert resp.status == 400 and (await resp.json())["field"] == "month"


async def test_commands_rebuild_reconcile_and_export(
    day: Day, pbx_config: Config, pg_url: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from callcenter.config import load_config
    from composition.cli import build_parser

    config = load_config(None, env={}, overrides={"database": {"url": pg_url}})
    before = (await report(day, "a"))["totals"]

    def run(*argv: str) -> int:
        args = build_parser().parse_args(["stats", *argv])
        return int(args.func(config, args))

    slug = day.slugs["a"]
    assert await asyncio.to_thread(run, "rebuild", "--tenant", slug, "--period", "day") == 0
    assert "rebuilt rollups" in capsys.readouterr().out
    assert (await report(day, "a"))["totals"] == before  # recomputing changes nothing
    log = str(day.pbx.queue_log)
    assert await asyncio.to_thread(run, "reconcile", "--queue-log", log, "--tenant", slug) == 0
    assert '"ok": true' in capsys.readouterr().out
    out = tmp_path / "bill.xlsx"
    assert (
        await asyncio.to_thread(
            run, "billing", "--tenant", slug, "--format", "xlsx", "-o", str(out)
        )
        == 0
    )
    sheet = openpyxl.load_workbook(out, data_only=True)["Days"]
    assert next(r for r in sheet.iter_rows(values_only=True) if r[0] == "total")[2] == 4
    assert await asyncio.to_thread(run, "report", "--tenant", "nobody") == 2
    assert "--tenant: no tenant 'nobody'" in capsys.readouterr().err
    assert await asyncio.to_thread(run, "billing", "--tenant", slug, "--month", "2026-13") == 2
    assert "--month: must be YYYY-MM" in capsys.readouterr().err


async def test_controlling_page_in_the_browser_shows_only_the_viewers_tenant(day: Day) -> None:
    from dashboards import pages as dash_pages
    from dashboards import render
    from dashboards.controlling import PATH
    from dashboards.controlling import register as register_pages
    from dashboards.plugin import STATIC
    from tests.integration.browser import chromium

    registry = dash_pages.PageRegistry()
    register_pages(registry)
    app = web.Application()
    auth.setup(app, day.db)
    stats_http.setup(app)
    render.install_environments(app, registry.template_dirs)
    app[dash_pages.REGISTRY] = registry
    registry.install(app)
    app.router.add_static("/static/", STATIC)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    month = datetime.now(UTC).strftime("%Y-%m")
    try:
        async with chromium() as browser:
            for who, tenants in (("viewer", ["a"]), ("admin", ["a", "b"])):
                context = await browser.new_context(base_url=base, locale="en-GB")
                login = await context.request.post(
                    "/api/auth/login",
                    data={"username": f"st-{who}-{day.sfx}", "password": PASSWORD},
                )
                assert login.ok
                page = await context.new_page()
                url = f"{PATH}?tenant={day.tenants['a']}&period=month&month={month}"
                await page.goto(url)
                offered = page.locator("#stats-kpis [data-metric=offered]")
                assert await offered.inner_text() == "10"
                answered = page.locator("#stats-kpis [data-metric=answered]")
                assert await answered.inner_text() == "4"
                options = await page.locator("#stats-tenant option").all_inner_texts()
                wanted = [f"Tenant {t.upper()}" for t in tenants]
                if who == "viewer":
                    assert options == wanted  # nothing but its own tenant
                else:
                    assert set(wanted) <= set(options)  # staff: every tenant (others' too)
                assert await page.locator("#stats-abandoned tbody tr").count() == 2
                help_text = await page.locator("#stats-figures").inner_text()
                assert "multi-stint rule" in help_text  # the definitions are on the page
                assert "(short)" in await page.locator("#stats-abandoned").inner_text()
                heat = await page.locator("#stats-heatmap td[title]").evaluate_all(
                    "cells => cells.reduce((s, c) => s + Number(c.title), 0)"
                )
                assert heat == 10
                other = await page.goto(f"{PATH}?tenant={day.tenants['b']}")
                assert other is not None
                assert other.status == (404 if who == "viewer" else 200), who
                await context.close()
    finally:
        await server.close()


async def test_receptionist_pauses_billable_and_not_from_queue_log(day: Day) -> None:
    from callcenter.records.repository import RecordRepository
    from callcenter.records.service import RecordService

    member = f"Local/agentf1{day.sfx}@agents/n"
    queue = day.q("qa-fast")
    for reason, seconds in (("wrapup", 2.2), ("break", 1.2)):
        for paused in ("true", "false"):
            headers = {"Queue": queue, "Interface": member, "Paused": paused}
            await day.ami.send_action("QueuePause", headers | {"Reason": reason}, check=True)
            if paused == "true":
                await asyncio.sleep(seconds)
    # The app's own copy of queue_log (ADR 0004), read by the same service the app runs.
    service = RecordService(RecordRepository(day.db, day.pbx.config.instance), day.pbx.queue_log)

    async def ingested() -> bool:
        await service.ingest()
        lines = day.pbx.queue_log.read_text().splitlines()
        return sum(f"|{queue}|F1|UNPAUSE|" in ln for ln in lines) >= 2

    await _until(ingested, "both UNPAUSE lines in queue_log")
    # Independently from the file: seconds between each PAUSE and the UNPAUSE after it.
    expected: Counter[str] = Counter()
    began: tuple[int, str] | None = None
    for p in _queue_log(day):
        if p[2] == queue and p[3] == "F1" and p[4] == "PAUSE":
            began = (int(p[0]), p[5])
        elif p[2] == queue and p[3] == "F1" and p[4] == "UNPAUSE" and began:
            expected[began[1]] += int(p[0]) - began[0]
            began = None
    url = "/api/stats/receptionists?period=day&billable_pauses=wrapup,notes"
    resp = await day.client.get(url, headers=day.h("admin"))
    pauses = (await resp.json())["receptionists"]["F1"]["pauses"]
    assert pauses["billable_seconds"] == expected["wrapup"] and expected["wrapup"] >= 2
    assert pauses["non_billable_seconds"] == expected["break"] and expected["break"] >= 1
    assert pauses["by_reason"] == {"break": expected["break"], "wrapup": expected["wrapup"]}
    # The same copy reconciles the day like the file does.
    start = datetime.fromtimestamp(time.time() - 3600, UTC)
    end = datetime.fromtimestamp(time.time() + 60, UTC)
    stored = await reconcile.stored_queue_log(day.db, start, end)
    result = await reconcile.reconcile(day.db, stored, start, end, tenant_id=day.tenants["a"])
    assert result.ok and result.matched == 10, result.as_dict()["differences"]
