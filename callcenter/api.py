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

Request parsing shared by the features' routes: :func:`json_body` (a JSON object is
required), :func:`json_object` (no body is ``{}``), :func:`path_int`, :func:`query_int`,
:func:`query_bool`; each refuses with :func:`invalid` naming the parameter.

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


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's body, which must be a JSON object (else 400 ``invalid``, field ``body``)."""
    try:
        data = await request.json()
    except ValueError:  # also UnicodeDecodeError and json.JSONDecodeError
        raise invalid("body", "must be a JSON object") from None
    if not isinstance(data, dict):
        raise invalid("body", "must be a JSON object")
    return data


def path_int(request: web.Request, name: str) -> int:
    """An id of the path (the route pattern has already made it digits)."""
    return int(request.match_info[name])


def query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    """``?name=`` as an integer in ``lo..hi``; ``default`` when absent."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, "must be an integer") from None
    if not lo <= value <= hi:
        raise invalid(name, f"must be between {lo} and {hi}")
    return value


def query_bool(request: web.Request, name: str, default: bool) -> bool:
    """``?name=`` as ``true``/``false`` (also ``1``/``0``, ``yes``/``no``)."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise invalid(name, "must be true or false")
