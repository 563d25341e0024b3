"""Shared helpers of the REST API: the one JSON error format, JSON request bodies.

Every error answer of every API has one shape (``ErrorBody`` in the OpenAPI document,
docs/api.md)::

    {"error": "invalid", "detail": "limit: must be an integer", "field": "limit",
     "reason": "must be an integer"}

- ``error``: a short machine-readable code (``invalid``, ``not_found``, ``forbidden``,
  ``conflict``, ``destination_refused`` …);
- ``detail``: what a person reads (a sentence; a list of faults for a tenant file);
- ``field``: where, when one input is at fault (a body key, query or path parameter);
- ``reason``: with ``field``, the fault without the location; otherwise a machine-readable
  sub-code (the destination policy's refusal).

Build errors only through these helpers: :func:`invalid` for a bad input, :func:`not_found`,
:func:`error` for the rest (:func:`json_error` when the exception class is at hand;
``callcenter.auth.json_error`` is the same function).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

_STATUS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    422: web.HTTPUnprocessableEntity,
    503: web.HTTPServiceUnavailable,
}


def error_body(
    code: str, detail: Any = None, *, field: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    """The error body: ``error`` and ``detail``, then ``field`` and ``reason`` when given."""
    body: dict[str, Any] = {"error": code, "detail": detail}
    if field is not None:
        body["field"] = field
    if reason is not None:
        body["reason"] = reason
    return body


def json_error(
    status: type[web.HTTPException],
    error: str,
    detail: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    field: str | None = None,
    reason: str | None = None,
) -> web.HTTPException:
    """An HTTP error of class ``status`` with the error body."""
    text = json.dumps(error_body(error, detail, field=field, reason=reason))
    return status(text=text, content_type="application/json", headers=headers)


def error(
    status: int, code: str, detail: Any, reason: str | None = None, *, field: str | None = None
) -> web.HTTPException:
    """A JSON error answer; an unknown ``status`` is answered 400. ``reason``: a
    machine-readable sub-code (e.g. the destination policy's refusal)."""
    cls = _STATUS.get(status, web.HTTPBadRequest)
    return json_error(cls, code, detail, field=field, reason=reason)


def invalid(field: str, reason: str) -> web.HTTPException:
    """400 ``invalid`` naming the input at fault: ``detail`` is ``"<field>: <reason>"``."""
    return json_error(
        web.HTTPBadRequest, "invalid", f"{field}: {reason}", field=field, reason=reason
    )


def not_found(detail: str, *, field: str | None = None) -> web.HTTPException:
    """404 ``not_found`` (``field``: the path or query parameter that named nothing)."""
    return json_error(web.HTTPNotFound, "not_found", detail, field=field)


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
