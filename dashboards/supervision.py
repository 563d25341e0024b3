"""Supervisors listen to, whisper to or barge in on a receptionist's call (ChanSpy).

``POST /api/supervision/{agent_id}/{listen|whisper|barge}`` (supervisor, admin): the
supervisor's own phone (their agent position) is rung by AMI ``Originate`` into
``ChanSpy(<receptionist's channel prefix>,<options>)``: ``q`` quiet, ``E`` end when the
spied call ends, ``w`` whisper (the receptionist hears the supervisor, the caller does
not), ``B`` barge (both hear). Every use is written to the audit log *before* the phone
rings, so listening in is never unrecorded.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import select

from callcenter import audit, auth
from callcenter.contract import described
from callcenter.db.models import Agent
from callcenter.db.session import DATABASE
from callcenter.pbx.ami.message import Message
from dashboards.schemas import SupervisionOut

MODES = {"listen": "qE", "whisper": "qwE", "barge": "qBE"}
_PREFIX = re.compile(r"[A-Za-z0-9/@._-]{1,120}")


class Originator(Protocol):
    async def send_action(
        self, name: str, headers: Any = None, *, timeout: float | None = None, check: bool = False
    ) -> Message: ...


class AgentViews(Protocol):
    def agent_view(self, interface: str) -> Any: ...


def spy_prefix(interface: str) -> str:
    """The channel-name prefix of a receptionist's calls: ``Local/agent7@agents/n`` →
    ``Local/agent7@agents`` (its channels are ``Local/agent7@agents-000001;1``)."""
    prefix = interface.removesuffix("/n")
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"interface {interface!r} cannot be spied on")
    return prefix


def spy_action(supervisor_phone: str, agent_interface: str, mode: str) -> dict[str, str]:
    """The AMI ``Originate`` headers (pure; ``mode`` one of :data:`MODES`)."""
    return {
        "Channel": supervisor_phone,
        "Application": "ChanSpy",
        "Data": f"{spy_prefix(agent_interface)},{MODES[mode]}",
        "CallerID": f"{mode} <{mode}>",
        "Timeout": "30000",
        "Async": "true",
    }


SUPERVISION_AMI: web.AppKey[Originator] = web.AppKey("dashboards_supervision_ami", object)  # type: ignore[arg-type]
SUPERVISION_LIVE: web.AppKey[AgentViews] = web.AppKey("dashboards_supervision_live", object)  # type: ignore[arg-type]


def _error(status: type[web.HTTPException], code: str, detail: str) -> web.HTTPException:
    return auth.json_error(status, code, detail)


@described(
    "Listen, whisper or barge on a receptionist's call from the own phone (audited)",
    responses={202: SupervisionOut},
    no_body=True,
    tags=("supervision",),
)
async def supervise(request: web.Request) -> web.Response:
    principal = auth.require_role(request, auth.ADMIN, auth.SUPERVISOR)
    mode, who = request.match_info["mode"], request.match_info["agent_id"]
    if mode not in MODES:
        raise _error(web.HTTPNotFound, "not_found", f"mode: one of {', '.join(MODES)}")
    if not who.isdigit():
        raise _error(web.HTTPNotFound, "not_found", f"no agent {who!r}")
    async with request.app[DATABASE].session() as session:
        agent = await session.get(Agent, int(who))
        phone = await session.scalar(
            select(Agent.interface).where(Agent.user_id == principal.user_id).limit(1)
        )
    if agent is None:
        raise _error(web.HTTPNotFound, "not_found", f"no agent {who}")
    if phone is None:
        raise _error(
            web.HTTPConflict, "conflict", "no phone: your user has no agent position to ring"
        )
    view = request.app[SUPERVISION_LIVE].agent_view(agent.interface) or {}
    if not view.get("in_call"):
        raise _error(web.HTTPConflict, "conflict", f"{agent.name} is not on a call")
    try:
        headers = spy_action(phone, agent.interface, mode)
    except ValueError as exc:
        raise _error(web.HTTPUnprocessableEntity, "invalid_agent", str(exc)) from None
    await audit.record(
        request.app[DATABASE],
        principal,
        f"call.{mode}",
        target=agent.name,
        detail={"agent_id": agent.id, "interface": agent.interface, "phone": phone},
        remote=request.remote,
    )
    reply = await request.app[SUPERVISION_AMI].send_action("Originate", headers)
    if reply.get("Response") != "Success":
        raise _error(web.HTTPConflict, "conflict", f"the PBX refused: {reply.get('Message')}")
    return web.json_response({"agent_id": agent.id, "mode": mode, "phone": phone}, status=202)


def setup(app: web.Application, ami: Originator, live: AgentViews) -> None:
    app[SUPERVISION_AMI] = ami
    app[SUPERVISION_LIVE] = live
    app.router.add_post("/api/supervision/{agent_id}/{mode}", supervise)
