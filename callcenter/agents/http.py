"""REST for receptionists' presence and call control.

- ``GET /api/agents``: agents with wanted presence (database) and live view (app_queue).
- ``POST /api/agents/me/{login|logout|pause|unpause}``; ``POST /api/agents/{id}/…`` for
  supervisors and admins. Pause body: ``{"reason": "lunch", "queue": "q-…" (optional)}``.
- ``POST /api/agents`` (admin) creates a position; ``PUT /api/agents/{id}/queues`` sets its
  queues and penalties (admin, supervisor), applied at once when logged in.
- ``POST /api/calls/{linkedid}/{action}`` (see :mod:`callcenter.callcontrol.rules`).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from sqlalchemy import select

from callcenter import auth
from callcenter.agents.models import AgentPresence
from callcenter.agents.service import AgentError, AgentService
from callcenter.callcontrol.service import CallControl, ControlError
from callcenter.db.models import Agent, Tenant
from callcenter.db.session import DATABASE
from callcenter.inputs import has_line_break
from callcenter.pbx.ami.client import AmiError

AGENTS: web.AppKey[AgentService] = web.AppKey("agent_service", AgentService)
CALLCONTROL: web.AppKey[CallControl] = web.AppKey("call_control", CallControl)
LIVE: web.AppKey[Any] = web.AppKey("agents_live", object)

CONTROL_ROLES = (auth.ADMIN, auth.SUPERVISOR, auth.RECEPTIONIST)
OPERATIONS = ("login", "logout", "pause", "unpause")
_STATUS = {
    400: web.HTTPBadRequest,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    422: web.HTTPUnprocessableEntity,
    503: web.HTTPServiceUnavailable,
}


MAX_AGENT_NAME = 200  # agents.name is VARCHAR(200); AMI shows it as the member name


def _error(status: int, error: str, detail: str, reason: str | None = None) -> web.HTTPException:
    return auth.json_error(_STATUS.get(status, web.HTTPBadRequest), error, detail, reason=reason)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:  # (can_read_body is False once a middleware read it)
        return {}
    try:
        body = await request.json()
    except (ValueError, json.JSONDecodeError):
        raise _error(400, "invalid_request", "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _error(400, "invalid_request", "body must be a JSON object")
    return body


async def list_agents(request: web.Request) -> web.Response:
    auth.require_role(request, *CONTROL_ROLES)
    live = request.app[LIVE]
    views = live.snapshot()["agents"] if live is not None else {}
    async with request.app[DATABASE].session() as session:
        rows = await session.execute(
            select(Agent, AgentPresence)
            .outerjoin(AgentPresence, AgentPresence.agent_id == Agent.id)
            .order_by(Agent.id)
        )
        out = [
            {
                "id": a.id,
                "name": a.name,
                "user_id": a.user_id,
                "interface": a.interface,
                "logged_in": bool(p and p.logged_in),
                "paused": bool(p and p.paused),
                "pause_reason": (p.pause_reason if p and p.paused else ""),
                "live": views.get(a.interface, {"status": "logged_out", "queues": []}),
            }
            for a, p in rows
        ]
    return web.json_response({"agents": out, "pause_reasons": list(request.app[AGENTS].reasons)})


async def agent_operation(request: web.Request) -> web.Response:
    who, op = request.match_info["who"], request.match_info["op"]
    if op not in OPERATIONS:
        raise _error(404, "not_found", f"no operation {op!r}; known: {', '.join(OPERATIONS)}")
    service = request.app[AGENTS]
    if who == "me":
        principal = auth.require_role(request, *CONTROL_ROLES)
        agent_id = await service.agent_for_user(principal.user_id)
        if agent_id is None:
            raise _error(404, "not_found", f"user {principal.username!r} has no agent position")
    else:
        auth.require_role(request, auth.ADMIN, auth.SUPERVISOR)
        if not who.isdigit():
            raise _error(404, "not_found", f"no agent {who!r}")
        agent_id = int(who)
    body = await _body(request)
    queue = body.get("queue")
    if queue is not None and not isinstance(queue, str):
        raise _error(400, "invalid_request", "queue: must be a queue name")
    try:
        if op == "login":
            result = await service.login(agent_id)
        elif op == "logout":
            result = await service.logout(agent_id)
        elif op == "pause":
            reason = body.get("reason")
            if not isinstance(reason, str) or not reason:
                raise _error(400, "invalid_request", "reason: required for a pause")
            result = await service.pause(agent_id, reason, queue)
        else:
            result = await service.unpause(agent_id, queue)
    except AgentError as exc:
        raise _error(exc.status, exc.error, exc.detail) from None
    return web.json_response(result.view(), status=200 if result.applied else 202)


async def call_action(request: web.Request) -> web.Response:
    principal = auth.require_role(request)
    linkedid, action = request.match_info["linkedid"], request.match_info["action"]
    control = request.app[CALLCONTROL]
    try:
        return await _call_action(request, principal, control, linkedid, action)
    except AmiError as exc:
        raise _error(503, "unavailable", f"PBX not reachable: {exc}") from None


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
        raise _error(404, "not_found", f"no live call {linkedid!r}")
    if principal.role not in CONTROL_ROLES:
        raise auth.json_error(
            web.HTTPForbidden, "forbidden", f"role {principal.role!r} may not control calls"
        )
    body = await _body(request)
    interface = None
    if action in ("pickup", "unpark"):
        interface = await _interface_for(request, principal, body)
    privileged = principal.role in (auth.ADMIN, auth.SUPERVISOR)
    try:
        result = await control.perform(facts, action, body, interface, privileged=privileged)
    except ControlError as exc:
        raise _error(exc.status, exc.error, exc.detail, exc.reason) from None
    return web.json_response(result)


async def _interface_for(
    request: web.Request, principal: auth.Principal, body: dict[str, Any]
) -> str | None:
    """The phone a pickup rings: the user's own agent, or ``agent_id`` for supervisors."""
    service = request.app[AGENTS]
    agent_id = body.get("agent_id")
    if agent_id is not None:
        if principal.role not in (auth.ADMIN, auth.SUPERVISOR):
            raise auth.json_error(web.HTTPForbidden, "forbidden", "agent_id: supervisors only")
        if not isinstance(agent_id, int) or isinstance(agent_id, bool):  # True is an int
            raise _error(400, "invalid_request", "agent_id: must be an integer")
    else:
        agent_id = await service.agent_for_user(principal.user_id)
        if agent_id is None:
            return None
    try:
        spec = await service.spec(agent_id)
        spec.check()
    except AgentError as exc:
        raise _error(exc.status, exc.error, exc.detail) from None
    except ValueError as exc:
        raise _error(422, "invalid_agent", str(exc)) from None
    return spec.interface


async def create_agent(request: web.Request) -> web.Response:
    """``POST /api/agents`` (admin): ``{name, interface, state_interface?, user_id?}``."""
    auth.require_role(request, auth.ADMIN)
    body = await _body(request)
    name, interface = body.get("name"), body.get("interface")
    state_interface, user_id = body.get("state_interface") or "", body.get("user_id")
    if not isinstance(name, str) or not isinstance(interface, str):
        raise _error(400, "invalid_request", "name and interface: strings required")
    if not name.strip() or len(name) > MAX_AGENT_NAME or has_line_break(name):
        raise _error(400, "invalid_request", f"name: 1 to {MAX_AGENT_NAME} characters on one line")
    if not isinstance(state_interface, str):
        raise _error(400, "invalid_request", "state_interface: must be a string")
    if user_id is not None and (not isinstance(user_id, int) or isinstance(user_id, bool)):
        raise _error(400, "invalid_request", "user_id: must be an integer")
    try:
        agent_id = await request.app[AGENTS].create(name, interface, state_interface, user_id)
    except AgentError as exc:
        raise _error(exc.status, exc.error, exc.detail) from None
    return web.json_response({"id": agent_id, "name": name, "interface": interface}, status=201)


async def set_agent_queues(request: web.Request) -> web.Response:
    """``PUT /api/agents/{id}/queues`` (admin, supervisor): ``{"queues": {name: penalty}}``;
    a logged-in agent's membership changes at once."""
    auth.require_role(request, auth.ADMIN, auth.SUPERVISOR)
    who = request.match_info["who"]
    if not who.isdigit():
        raise _error(404, "not_found", f"no agent {who!r}")
    queues = (await _body(request)).get("queues")
    if not isinstance(queues, dict):
        raise _error(400, "invalid_request", 'queues: object {"q-name": penalty} required')
    try:
        result = await request.app[AGENTS].set_queues(int(who), queues)
    except AgentError as exc:
        raise _error(exc.status, exc.error, exc.detail) from None
    return web.json_response(result.view(), status=200 if result.applied else 202)


def setup(app: web.Application, agents: AgentService, control: CallControl, live: Any) -> None:
    app[AGENTS] = agents
    app[CALLCONTROL] = control
    app[LIVE] = live
    app.router.add_get("/api/agents", list_agents)
    app.router.add_post("/api/agents", create_agent)
    app.router.add_put("/api/agents/{who}/queues", set_agent_queues)
    app.router.add_post("/api/agents/{who}/{op}", agent_operation)
    app.router.add_post("/api/calls/{linkedid}/{action}", call_action)
