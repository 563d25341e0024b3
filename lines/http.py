"""HTTP routes of the lines feature: the status of trunks and phones."""

from __future__ import annotations

from aiohttp import web

from callcenter import auth
from lines.service import LINES, LinesService


async def lines_status(request: web.Request) -> web.Response:
    """``GET /api/lines``: every trunk and phone with ``up`` and what it is based on."""
    auth.require_role(request, "admin", "supervisor")
    service = request.app[LINES]
    return web.json_response(service.snapshot())


def setup(app: web.Application, service: LinesService) -> None:
    app[LINES] = service
    app.router.add_get("/api/lines", lines_status)
