"""The browser softphone: its page, its settings and the SIP-over-WebSocket relay.

The browser speaks SIP over ``wss://<app>/ws/sip`` to the app, which relays every frame
unchanged to Asterisk's WebSocket transport (``ws://<pbx>/ws``, sub-protocol ``sip``). So
the browser needs one origin and one certificate (the app's), the relay admits only
logged-in staff, and Asterisk's HTTP port stays on loopback or the app's network. Media
does not pass the app: DTLS-SRTP flows between browser and Asterisk (ICE).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import aiohttp
from aiohttp import WSMsgType, web
from sqlalchemy import select

from callcenter import auth
from callcenter.config import Config
from callcenter.contract import described
from callcenter.db.models import Agent
from callcenter.db.session import DATABASE, Database
from lines.models import Phone
from lines.schemas import SoftphoneSettings
from lines.settings import media_address

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
STAFF = ("admin", "supervisor", "receptionist")
CONFIG: web.AppKey[Config] = web.AppKey("lines_softphone_config", Config)


@described("The browser softphone page", responses={200: "text/html"}, tags=("lines",))
async def page(request: web.Request) -> web.FileResponse:
    """``GET /softphone``: the self-contained softphone page."""
    auth.require_role(request, *STAFF)
    return web.FileResponse(STATIC / "softphone.html", headers={"Cache-Control": "no-cache"})


@described("Where the softphone connects", responses={200: SoftphoneSettings}, tags=("lines",))
async def settings(request: web.Request) -> web.Response:
    """``GET /api/softphone``: where to connect, which SIP domain, which ICE networks, and
    the caller's own browser phone (``phone``: its name and digest, or ``null``)."""
    principal = auth.require_role(request, *STAFF)
    config = request.app[CONFIG]
    scheme = "wss" if request.secure else "ws"
    networks = ice_networks(config)
    response = web.json_response(
        {
            "websocket": f"{scheme}://{request.host}/ws/sip",
            "domain": config.pbx.host,
            "ice_networks": networks,
            "phone": await own_phone(request.app[DATABASE], principal.user_id),
        }
    )
    response.headers["Cache-Control"] = "no-store"  # holds the phone's digest
    return response


async def own_phone(db: Database, user_id: int) -> dict[str, str] | None:
    """The browser phone of the user's receptionist position (agent interface
    ``PJSIP/<phone>`` of kind ``webrtc``): name and HA1 digest, so the console registers it
    without the password (shown once at provisioning). Nobody else's phone is returned; a
    desk phone (kind ``sip``) is not, as the browser does not register it."""
    async with db.session() as session:
        interfaces = (
            await session.scalars(
                select(Agent.interface).where(Agent.user_id == user_id).order_by(Agent.id)
            )
        ).all()
        names = [i.removeprefix("PJSIP/") for i in interfaces if i.startswith("PJSIP/")]
        if not names:
            return None
        phone = await session.scalar(
            select(Phone).where(Phone.name.in_(names), Phone.kind == "webrtc").limit(1)
        )
    if phone is None or not phone.password_digest.startswith("MD5:"):
        return None
    return {"name": phone.name, "realm": phone.realm, "ha1": phone.password_digest[4:]}


def ice_networks(config: Config) -> list[str]:
    """``lines.webrtc_networks``; unset with RTP on loopback (a demo on one machine): only
    loopback candidates can ever connect, so only those are announced."""
    networks = [n.strip() for n in config.lines.webrtc_networks.split(",") if n.strip()]
    if not networks and media_address(config).startswith("127."):
        return ["127.0.0.0/8"]
    return networks


@described(
    "SIP over WebSocket relay to the PBX (sub-protocol sip)",
    responses={101: None},
    tags=("lines",),
)
async def relay(request: web.Request) -> web.WebSocketResponse:
    """``GET /ws/sip``: relay SIP over WebSocket between the browser and Asterisk."""
    auth.require_role(request, *STAFF)
    config = request.app[CONFIG]
    browser = web.WebSocketResponse(protocols=("sip",), heartbeat=30.0)
    await browser.prepare(request)
    url = f"http://{config.pbx.host}:{config.pbx.http_port}/ws"
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, protocols=("sip",), heartbeat=30.0) as pbx,
        ):
            await _pump(browser, pbx)
    except aiohttp.ClientError as exc:
        log.warning("softphone relay: PBX websocket %s: %s", url, exc)
    finally:
        await browser.close()
    return browser


async def _pump(browser: web.WebSocketResponse, pbx: aiohttp.ClientWebSocketResponse) -> None:
    async def up() -> None:
        async for msg in browser:
            if msg.type == WSMsgType.TEXT:
                await pbx.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await pbx.send_bytes(msg.data)

    async def down() -> None:
        async for msg in pbx:
            if msg.type == WSMsgType.TEXT:
                await browser.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await browser.send_bytes(msg.data)

    tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
    try:
        # Either side closing ends the relay (a SIP registration lives on its connection).
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def setup(app: web.Application, config: Config) -> None:
    app[CONFIG] = config
    app.router.add_get("/softphone", page)
    app.router.add_get("/api/softphone", settings)
    app.router.add_get("/ws/sip", relay)
    app.router.add_static("/softphone/static", STATIC, append_version=False)
