"""REST for call control: ``POST /api/calls/{linkedid}/{action}``.

Actions and their rules are in :mod:`callcontrol.rules`; a call the user's tenants do not
include answers 404 like a call that does not exist. A pickup or unpark rings the user's
own agent position (or ``agent_id``, for supervisors) from :mod:`agents`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from agents.service import AgentError, AgentService
from callcenter import api, auth
from callcenter.contract import described
from callcenter.db.models import Tenant
from callcenter.db.session import DATABASE
from callcenter.pbx.ami.client import AmiError
from callcontrol import schemas as S
from callcontrol.service import CallControl, ControlError

CALLCONTROL: web.AppKey[CallControl] = web.AppKey("call_control", CallControl)
AGENTS: web.AppKey[AgentService] = web.AppKey("callcontrol_agents", AgentService)
CONTROL_ROLES = (auth.ADMIN, auth.SUPERVISOR, auth.RECEPTIONIST)


@described(
    "Control a live call (pickup, hold, transfer, park, hangup, voicemail, move …)",
    body=S.ActionIn,
    responses={200: S.ActionOut},
    tags=("calls",),
)
async def call_action(request: web.Request) -> web.Response:
    principal = auth.require_role(request)
    linkedid, action = request.match_info["linkedid"], request.match_info["action"]
    control = request.app[CALLCONTROL]
    try:
        return await _call_action(request, principal, control, linkedid, action)
    except AmiError as exc:
        raise api.error(503, "unavailable", f"PBX not reachable: {exc}") from None


async def _call_action(
    request: web.Request,
    principal: auth.Principal,
    control: CallControl,
    linkedid: str,
    action: str,
) -> web.Response:
    facts = await control.facts(linkedid)
    if facts is not None and principal.tenant_ids is not None:
        async with request.app[DATABASE].session() as session:
            tenant_id = await session.scalar(select(Tenant.id).where(Tenant.slug == facts.tenant))
        if not principal.can_see(tenant_id):
            facts = None
    if facts is None:
        raise api.error(404, "not_found", f"no live call {linkedid!r}")
    if principal.role not in CONTROL_ROLES:
        raise auth.json_error(
            web.HTTPForbidden, "forbidden", f"role {principal.role!r} may not control calls"
        )
    body = await api.json_object(request)
    interface = name = None
    if action in ("pickup", "unpark"):
        interface, name = await _interface_for(request, principal, body)
    privileged = principal.role in (auth.ADMIN, auth.SUPERVISOR)
    try:
        result = await control.perform(
            facts, action, body, interface, privileged=privileged, agent_name=name
        )
    except ControlError as exc:
        raise api.error(exc.status, exc.error, exc.detail, exc.reason) from None
    return web.json_response(result)


async def _interface_for(
    request: web.Request, principal: auth.Principal, body: dict[str, Any]
) -> tuple[str | None, str | None]:
    """The phone a pickup rings and its position's name: the user's own agent, or
    ``agent_id`` for supervisors."""
    service = request.app[AGENTS]
    agent_id = body.get("agent_id")
    if agent_id is not None:
        if principal.role not in (auth.ADMIN, auth.SUPERVISOR):
            raise auth.json_error(web.HTTPForbidden, "forbidden", "agent_id: supervisors only")
        if not isinstance(agent_id, int) or isinstance(agent_id, bool):  # True is an int
            raise api.error(400, "invalid_request", "agent_id: must be an integer")
    else:
        agent_id = await service.agent_for_user(principal.user_id)
        if agent_id is None:
            return None, None
    try:
        spec = await service.spec(agent_id)
        spec.check()
    except AgentError as exc:
        raise api.error(exc.status, exc.error, exc.detail) from None
    except ValueError as exc:
        raise api.error(422, "invalid_agent", str(exc)) from None
    return spec.interface, spec.name


def setup(app: web.Application, control: CallControl, agents: AgentService) -> None:
    app[CALLCONTROL] = control
    app[AGENTS] = agents
    app.router.add_post("/api/calls/{linkedid}/{action}", call_action)
