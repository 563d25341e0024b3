"""Shared helpers of the REST API: JSON error answers and JSON request bodies.

Errors are ``{"error": code, "detail": text}`` (:func:`callcenter.auth.json_error`) with
the HTTP status a client can act on; features raise them through :func:`error`.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from callcenter import auth

_STATUS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    422: web.HTTPUnprocessableEntity,
    503: web.HTTPServiceUnavailable,
}


def error(status: int, code: str, detail: str, reason: str | None = None) -> web.HTTPException:
    """A JSON error answer; an unknown ``status`` is answered 400. ``reason``: a
    machine-readable sub-code (e.g. the destination policy's refusal)."""
    return auth.json_error(_STATUS.get(status, web.HTTPBadRequest), code, detail, reason=reason)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body; no body at all is ``{}``."""
    if not request.body_exists:  # (can_read_body is False once a middleware read it)
        return {}
    try:
        body = await request.json()
    except (ValueError, json.JSONDecodeError):
        raise error(400, "invalid_request", "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise error(400, "invalid_request", "body must be a JSON object")
    return body
