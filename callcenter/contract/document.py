"""The OpenAPI 3.1 document of a running app, generated from its router and the models its
handlers declare (:mod:`callcenter.contract.describe`); pydantic writes the JSON schemas.

Path parameters come from the routes themselves: ``{contact_id:\\d+}`` is an integer of
at most 64 bits, anything else a string. Routes without a declaration are listed too
(generic bodies, the error schema), so the document always covers every route and
schemathesis can probe them all.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel

from callcenter.contract.describe import ErrorBody, RouteDoc, doc_of

INT64_MAX = 2**63 - 1
_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<pattern>[^()]*(?:\([^()]*\)[^()]*)*)\)")
_REF = "#/components/schemas/"


def build_document(app: web.Application, *, title: str, version: str) -> dict[str, Any]:
    """The whole document: every route of ``app`` with a method (HEAD and OPTIONS aside)."""
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        method = route.method.upper()
        if method in ("HEAD", "OPTIONS", "*"):
            continue
        path, params = _path_of(route)
        if path is None or not path.startswith("/api/"):
            continue
        operation = _operation(route, method, params, schemas)
        paths.setdefault(path, {})[method.lower()] = operation
    _add(ErrorBody, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "cc_session"},
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
    }


def _path_of(route: web.AbstractRoute) -> tuple[str | None, list[dict[str, Any]]]:
    info = route.get_info()
    if "path" in info:
        return str(info["path"]), []
    formatter = info.get("formatter")
    pattern = info.get("pattern")
    if formatter is None or pattern is None:
        return None, []
    params = []
    for m in _GROUP.finditer(pattern.pattern):
        numeric = m.group("pattern") in (r"\d+", "[0-9]+")
        schema: dict[str, Any] = (
            {"type": "integer", "minimum": 0, "maximum": INT64_MAX}
            if numeric
            else {"type": "string", "pattern": f"^{m.group('pattern')}$"}
        )
        params.append({"name": m.group("name"), "in": "path", "required": True, "schema": schema})
    return str(formatter), params


def _operation(
    route: web.AbstractRoute, method: str, params: list[dict[str, Any]], schemas: dict[str, Any]
) -> dict[str, Any]:
    doc = doc_of(route.handler)
    summary = doc.summary if doc else _first_line(route.handler.__doc__)
    op: dict[str, Any] = {
        "operationId": f"{method.lower()}_{route.handler.__module__}.{route.handler.__name__}",
        "summary": summary,
        "parameters": params + (_query(doc.query, schemas) if doc and doc.query else []),
        "responses": _responses(doc, method, schemas),
        "x-described": doc is not None,
    }
    if doc is not None and doc.tags:
        op["tags"] = list(doc.tags)
    else:
        op["tags"] = [route.handler.__module__.split(".")[0]]
    if doc is not None and doc.public:
        op["security"] = []
    body = _request_body(doc, method, schemas)
    if body is not None:
        op["requestBody"] = body
    return op


def _request_body(
    doc: RouteDoc | None, method: str, schemas: dict[str, Any]
) -> dict[str, Any] | None:
    if doc is not None and doc.body is not None:
        schema = _add(doc.body, schemas, "validation")
        return {"required": True, "content": {"application/json": {"schema": schema}}}
    if doc is not None and doc.body_media is not None:
        return {"required": True, "content": {doc.body_media: {"schema": {"type": "string"}}}}
    if doc is None and method in ("POST", "PUT", "PATCH"):
        return {"required": False, "content": {"application/json": {"schema": {}}}}
    return None


def _responses(doc: RouteDoc | None, method: str, schemas: dict[str, Any]) -> dict[str, Any]:
    error = {
        "description": "refused: the error schema names why",
        "content": {"application/json": {"schema": {"$ref": _REF + "ErrorBody"}}},
    }
    out: dict[str, Any] = {}
    declared = dict(doc.responses) if doc is not None else {}
    if not declared:
        out["2XX"] = {"description": "success (not described further)", "content": {"*/*": {}}}
    for status, model in declared.items():
        if status == 204:
            out["204"] = {"description": "done (no body)"}
        elif model is None:
            out[str(status)] = {"description": "success", "content": {"application/json": {}}}
        elif isinstance(model, str):
            out[str(status)] = {"description": "success", "content": {model: {}}}
        else:
            content = {"application/json": {"schema": _add(model, schemas)}}
            out[str(status)] = {"description": model.__doc__ or "success", "content": content}
    out["4XX"] = error
    return out


def _query(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF + "{model}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _add(
    model: type[BaseModel],
    schemas: dict[str, Any],
    mode: Literal["validation", "serialization"] = "serialization",
) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF + "{model}", mode=mode)
    for name, sub in schema.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas[model.__name__] = schema
    return {"$ref": _REF + model.__name__}


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0].strip() or "(no summary)"
