"""``callcenter demo``: the whole system on one machine, for real, on embedded defaults.

Starts the Asterisk sandbox, migrates the embedded database, loads the demo tenants,
creates demo logins (random passwords kept in ``<data_dir>/demo-logins.json``) and
auto-answering demo receptionist positions in every tenant queue (the app provisions the
queues through AMI and logs the receptionists in from the database), places a demo call
now and then, and serves the app. Nothing secret is in the repository; everything generated
is per machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import secrets
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from callcenter.config import Config
from callcenter.logs import setup_logging
from ivr.errors import ConfigFaults

if TYPE_CHECKING:
    from callcenter.pbx.sandbox import Sandbox
    from callcenter.services import Services
    from ivr.registry import TenantRegistry

log = logging.getLogger(__name__)

DEMO_CONTACTS = Path(__file__).resolve().parents[1] / "config" / "demo"
DEMO_AGENTS = ("agent1", "agent2", "agent3")
DEMO_USERS = (
    ("admin", "admin", "Demo Admin", ()),
    ("supervisor", "supervisor", "Sabine Supervisor", ()),
    ("anna", "receptionist", "Anna Empfang", ()),
    # Her position is the browser phone demo-web: the console carries the softphone.
    ("lena", "receptionist", "Lena Softphone", ()),
    ("mueller", "tenant", "Müller GmbH (client login)", ("mueller",)),
)
DEMO_CALLERS = (
    ("Erika Mustermann", "+4915112345678"),
    ("John Smith", "+447700900123"),
    ("VIP Kunde", "+491701234567"),
    ("", "+4989555000"),
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="run the whole system with demo tenants, receptionists and calls",
        description=__doc__,
    )
    parser.add_argument(
        "--traffic-interval",
        type=float,
        default=20.0,
        help="seconds between demo calls (0: no demo traffic)",
    )
    parser.add_argument(
        "--https",
        action="store_true",
        help="serve HTTPS with a local self-signed certificate (made once in data_dir/tls)",
    )
    parser.set_defaults(func=demo)


def demo(config: Config, args: argparse.Namespace) -> int:
    from callcenter.db.migrate import upgrade
    from callcenter.pbx.sandbox import Sandbox, SandboxError

    setup_logging(config.app.log_level, config.app.log_format)
    config = config.with_secrets()
    sandbox = Sandbox(config.pbx, config.app.data_dir)
    print("Asterisk: preparing the Debian sid root (first run: about a minute) …", flush=True)
    try:
        sandbox.ensure_root()
        status = sandbox.up()
    except SandboxError as exc:
        print(f"callcenter demo: {exc}")
        return 1
    print(f"{status.version or 'Asterisk'} running (instance {config.pbx.instance})")
    upgrade(config.database_url)
    try:
        _placeholder_prompts(config)
        queues = asyncio.run(_load_tenants(config))
    except ConfigFaults as exc:
        print(f"callcenter demo: {exc}")
        return 1
    logins = asyncio.run(_ensure_users(config))
    asyncio.run(_ensure_agents(config, queues))
    asyncio.run(_demo_contacts(config))
    _prepare_demo_phones(sandbox)
    from lines import demo as lines_demo

    if args.https and not config.app.tls_cert_file:
        cert, key = lines_demo.local_certificate(config.app.data_dir, config.app.host)
        app_config = dataclasses.replace(config.app, tls_cert_file=str(cert), tls_key_file=str(key))
        config = dataclasses.replace(config, app=app_config)
    phones = asyncio.run(lines_demo.ensure_demo_phones(config, queues))
    _print_banner(config, logins, queues)
    scheme = "https" if config.app.tls_cert_file else "http"
    print(
        "\n".join(
            lines_demo.banner(config, phones, f"{scheme}://{config.app.host}:{config.app.port}")
        )
    )
    print()

    from composition.app import make_app
    from composition.serve import ListenError, bind, run, ssl_context

    try:
        sock = bind(config.app.host, config.app.port)
    except ListenError as exc:
        print(f"callcenter demo: {exc}", file=sys.stderr)
        return 1
    app = make_app(config)
    if args.traffic_interval > 0:
        app.cleanup_ctx.append(_traffic(config, args.traffic_interval))
    run(app, sock, ssl_context(config))
    return 0


def _placeholder_prompts(config: Config) -> None:
    """Synthetic (espeak-ng) stand-ins for tenant recordings not yet recorded."""
    from ivr.placeholders import generate_for_file

    recordings = config.app.data_dir / "recordings"
    for path in sorted(config.tenants.directory.glob("*.toml")):
        written = generate_for_file(path, recordings)
        if written:
            print(f"{path.name}: {len(written)} synthetic placeholder prompts generated")


async def _load_tenants(config: Config) -> list[str]:
    """Store the demo tenant files in the database; return their queue names."""
    from callcenter.db.session import Database
    from ivr.prompts import PromptSources
    from ivr.registry import TenantRegistry, reload_from_files

    sources = PromptSources.for_pbx_root(config.pbx.root, config.app.data_dir / "recordings")
    registry = TenantRegistry()
    db = Database(config.database_url)
    try:
        await reload_from_files(registry, db, config.tenants.directory, sources)
    finally:
        await db.close()
    names = {q.name for t in registry.tenants() for q in t.routing.queues}
    return sorted(names)


def _prepare_demo_phones(sandbox: Sandbox) -> None:
    """The auto-answering demo phones report "not in use" (their state interfaces).

    Queues and members are not written here: the app provisions the tenant queues through
    AMI and logs the demo receptionists in from the database (agents).
    """
    sandbox.remove_generated("queues.conf")  # static members of older demo versions
    for agent in DEMO_AGENTS:
        sandbox.cli(f"devstate change Custom:{agent} NOT_INUSE")


async def _ensure_agents(config: Config, queues: Sequence[str]) -> None:
    """Demo receptionist positions (anna is agent1) in every tenant queue, logged in."""
    from sqlalchemy import select

    from agents.demo import seat
    from callcenter.db.models import Agent, Queue, User
    from callcenter.db.session import Database

    db = Database(config.database_url)
    try:
        async with db.session() as session:
            anna = await session.scalar(select(User.id).where(User.username == "anna"))
            queue_ids = list(await session.scalars(select(Queue.id).where(Queue.name.in_(queues))))
            for n, name in enumerate(DEMO_AGENTS, start=1):
                interface = f"Local/{name}@agents/n"
                agent = await session.scalar(select(Agent).where(Agent.interface == interface))
                if agent is None:
                    agent = Agent(
                        interface=interface,
                        state_interface=f"Custom:{name}",
                        name="Anna Empfang" if n == 1 else f"Demo Agent {n}",
                        user_id=anna if n == 1 else None,
                    )
                    session.add(agent)
                    await session.flush()
                await seat(session, agent, queue_ids)
    finally:
        await db.close()


async def _ensure_users(config: Config) -> list[tuple[str, str, str]]:
    """Create the demo logins once; their passwords live in data_dir, never in the repo."""
    from callcenter.db.session import Database
    from callcenter.db.users import UserRepository

    path = config.app.data_dir / "demo-logins.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    db = Database(config.database_url)
    out = []
    try:
        users = UserRepository(db)
        for username, role, display, tenants in DEMO_USERS:
            password = known.get(username) or secrets.token_urlsafe(12)
            if await users.get(username) is None:
                await users.add(
                    username, password, role, display_name=display, tenant_slugs=tenants
                )
            elif username not in known:
                await users.set_password(username, password)
            known[username] = password
            out.append((username, role, password))
    finally:
        await db.close()
    _write_private(path, json.dumps(known, indent=2))
    return out


async def _demo_contacts(config: Config) -> None:
    """CRM contacts for the demo callers, so the screen pop has someone to show.

    Imported like any CSV (duplicates merge), so running the demo again changes nothing.
    """
    from sqlalchemy import select

    from callcenter.db.models import Tenant
    from callcenter.db.session import Database
    from crm import csv_import, importing
    from crm import repository as crm_repo

    db = Database(config.database_url)
    try:
        for path in sorted(DEMO_CONTACTS.glob("contacts-*.csv")):
            slug = path.stem.removeprefix("contacts-")
            async with db.session() as session:
                tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == slug))
                if tenant_id is None:
                    continue
                region = await crm_repo.tenant_region(session, tenant_id)
                parsed = csv_import.parse(path.read_text(encoding="utf-8"), None, region)
                await importing.import_contacts(session, tenant_id, parsed.rows, dry_run=False)
    finally:
        await db.close()


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _print_banner(config: Config, logins: list[tuple[str, str, str]], queues: list[str]) -> None:
    scheme = "https" if config.app.tls_cert_file else "http"
    url = f"{scheme}://{config.app.host}:{config.app.port}"
    print()
    print(f"  callcenter demo on {url}")
    print(f"  open {url}/ in a browser: log in as anna for the receptionist console,")
    print("  as supervisor for the wallboard (a demo call arrives every 10–30 s)")
    print(f"  health: {url}/healthz   metrics: {url}/metrics   live state: {url}/api/live")
    print(f"  queues: {', '.join(queues)}")
    print("  logins (POST /api/auth/login with JSON username/password):")
    for username, role, password in logins:
        print(f"    {username:<11} {role:<13} {password}")
    print(f"  (also in {config.app.data_dir / 'demo-logins.json'})")
    print()


def _traffic(config: Config, interval: float) -> Any:
    """A cleanup context placing one demo call every ``interval`` seconds (jittered)."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        from callcenter.services import SERVICES
        from ivr.http import REGISTRY

        task = asyncio.create_task(_place_calls(app[SERVICES], app[REGISTRY], config, interval))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


# The demo shows every state (issue #8): most callers go through the menus and stay until a
# receptionist answers; some give up while waiting; some hang up in the menu.
DEMO_KINDS = ("answered", "answered", "gives-up", "answered", "hangs-up-in-menu")


def demo_scenario(kind: str, did: str, number: str, name: str, rng: random.Random) -> Any:
    """A demo caller of ``kind``: keys 1 (language) and 1 (receptionist) after the prompts
    have had time to play, then on the line long enough for what the kind should show."""
    from callcenter.pbx.simulate import Dtmf, Scenario, Wait

    menus = (Wait(3.0), Dtmf("1"), Wait(4.0), Dtmf("1"))
    if kind == "hangs-up-in-menu":
        steps: tuple[Any, ...] = (Wait(3.0), Dtmf("1"), Wait(rng.uniform(2.0, 4.0)))
    elif kind == "gives-up":
        steps = (*menus, Wait(rng.uniform(8.0, 20.0)))
    else:  # answered: waits, then talks, until the caller script ends
        steps = (*menus, Wait(rng.uniform(60.0, 120.0)))
    return Scenario(did, number, name, steps)


async def _place_calls(
    services: Services, registry: TenantRegistry, config: Config, interval: float
) -> None:
    """Calls to the DIDs of the app's own tenant registry (so a tenant reload shows)."""
    from callcenter.pbx.ari.errors import AriError
    from callcenter.pbx.simulate import place_call

    rng = random.Random()
    calls = 0
    while True:
        await asyncio.sleep(interval * rng.uniform(0.5, 1.5))
        dids = [d.number for t in registry.tenants() for d in t.dids]
        if not dids:
            continue
        name, number = rng.choice(DEMO_CALLERS)
        kind = DEMO_KINDS[calls % len(DEMO_KINDS)]
        calls += 1
        scenario = demo_scenario(kind, rng.choice(dids), number, name, rng)
        try:
            await place_call(services.require_pbx().ari, config.pbx, scenario)
        except (AriError, OSError) as exc:
            log.warning("demo call not placed: %s", exc)
