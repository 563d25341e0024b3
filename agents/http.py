"""REST for receptionists' presence and queue membership (call control: :mod:`callcontrol.http`).

- ``GET /api/agents``: agents with wanted presence (database) and live view (app_queue).
- ``POST /api/agents/me/{login|logout|pause|unpause}``; ``POST /api/agents/{id}/…`` for
  supervisors and admins. Pause body: ``{"reason": "lunch", "queue": "q-…" (optional)}``.
- ``POST /api/agents`` (admin) creates a position; ``PUT /api/agents/{id}/queues`` sets its
  queues and penalties (admin, supervisor), applied at once when logged in.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from agents import schemas as S
from agents.models import AgentPresence
from agents.service import AgentError, AgentService
from callcenter import api, auth
from callcenter.contract import described
from callcenter.db.models import Agent
from callcenter.db.session import DATABASE
from callcenter.inputs import has_line_break
from callcenter.state.service import LiveStateService

AGENTS: web.AppKey[AgentService] = web.AppKey("agent_service", AgentService)
LIVE: web.AppKey[LiveStateService] = web.AppKey("agents_live", LiveStateService)

CONTROL_ROLES = (auth.ADMIN, auth.SUPERVISOR, auth.RECEPTIONIST)
OPERATIONS = ("login", "logout", "pause", "unpause")
MAX_AGENT_NAME = 200  # agents.name is VARCHAR(200); AMI shows it as the member name


@described("Receptionists: presence and live view", responses={200: S.AgentList}, tags=("agents",))
async def list_agents(request: web.Request) -> web.Response:
    auth.require_role(request, *CONTROL_ROLES)
    views = request.app[LIVE].snapshot()["agents"]
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


@described(
    "Log in, log out, pause or unpause an agent (me, or an id)",
    body=S.OperationIn,
    responses={200: S.ApplyOut, 202: S.ApplyOut},
    tags=("agents",),
)
async def agent_operation(request: web.Request) -> web.Response:
    who, op = request.match_info["who"], request.match_info["op"]
    if op not in OPERATIONS:
        raise api.error(404, "not_found", f"no operation {op!r}; known: {', '.join(OPERATIONS)}")
    service = request.app[AGENTS]
    if who == "me":
        principal = auth.require_role(request, *CONTROL_ROLES)
        agent_id = await service.agent_for_user(principal.user_id)
        if agent_id is None:
            raise api.error(404, "not_found", f"user {principal.username!r} has no agent position")
    else:
        auth.require_role(request, auth.ADMIN, auth.SUPERVISOR)
        if not who.isdigit():
            raise api.error(404, "not_found", f"no agent {who!r}")
        agent_id = int(who)
    body = await api.json_object(request)
    queue = body.get("queue")
    if queue is not None and not isinstance(queue, str):
        raise api.error(400, "invalid_request", "queue: must be a queue name")
    try:
        if op == "login":
            result = await service.login(agent_id)
        elif op == "logout":
            result = await service.logout(agent_id)
        elif op == "pause":
            reason = body.get("reason")
            if not isinstance(reason, str) or not reason:
                raise api.error(400, "invalid_request", "reason: required for a pause")
            result = await service.pause(agent_id, reason, queue)
        else:
            result = await service.unpause(agent_id, queue)
    except AgentError as exc:
        raise api.error(exc.status, exc.error, exc.detail) from None
    return web.json_response(result.view(), status=200 if result.applied else 202)


@described(
    "Create a receptionist position",
    body=S.AgentIn,
    responses={201: S.AgentCreated},
    tags=("agents",),
)
async def create_agent(request: web.Request) -> web.Response:
    """``POST /api/agents`` (admin): ``{name, interface, state_interface?, user_id?}``."""
    auth.require_role(request, auth.ADMIN)
    body = await api.json_object(request)
    name, interface = body.get("name"), body.get("interface")
    state_interface, user_id = body.get("state_interface") or "", body.get("user_id")
    if not isinstance(name, str) or not isinstance(interface, str):
        raise api.error(400, "invalid_request", "name and interface: strings required")
    if not name.strip() or len(name) > MAX_AGENT_NAME or has_line_break(name):
        raise api.error(
            400, "invalid_request", f"name: 1 to {MAX_AGENT_NAME} characters on one line"
        )
    if not isinstance(state_interface, str):
        raise api.error(400, "invalid_request", "state_interface: must be a string")
    if user_id is not None and (not isinstance(user_id, int) or isinstance(user_id, bool)):
        raise api.error(400, "invalid_request", "user_id: must be an integer")
    try:
        agent_id = await request.app[AGENTS].create(name, interface, state_interface, user_id)
    except AgentError as exc:
        raise api.error(exc.status, exc.error, exc.detail) from None
    return web.json_response({"id": agent_id, "name": name, "interface": interface}, status=201)


@described(
    "Set an agent's queues and penalties",
    body=S.QueuesIn,
    responses={200: S.ApplyOut, 202: S.ApplyOut},
    tags=("agents",),
)
async def set_agent_queues(request: web.Request) -> web.Response:
    """``PUT /api/agents/{id}/queues`` (admin, supervisor): ``{"queues": {name: penalty}}``;
    a logged-in agent's membership changes at once."""
    auth.require_role(request, auth.ADMIN, auth.SUPERVISOR)
    who = request.match_info["who"]
    if not who.isdigit():
        raise api.error(404, "not_found", f"no agent {who!r}")
    queues = (await api.json_object(request)).get("queues")
    if not isinstance(queues, dict):
        raise api.error(400, "invalid_request", 'queues: object {"q-name": penalty} required')
    try:
        result = await request.app[AGENTS].set_queues(int(who), queues)
    except AgentError as exc:
        raise api.error(exc.status, exc.error, exc.detail) from None
    return web.json_response(result.view(), status=200 if result.applied else 202)


def setup(app: web.Application, agents: AgentService, live: LiveStateService) -> None:
    app[AGENTS] = agents
    app[LIVE] = live
    app.router.add_get("/api/agents", list_agents)
    app.router.add_post("/api/agents", create_agent)
    app.router.add_put("/api/agents/{who}/queues", set_agent_queues)
    app.router.add_post("/api/agents/{who}/{op}", agent_operation)
