"""Every route of the whole app is in the API contract with real schemas (issue #9): a
described handler, a model (or a media type) for every success answer, a request model
(or a raw media type, or an explicit "no body") for every write. On the old main 45
routes were undescribed (generic bodies, ``x-described: false``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import BaseModel, RootModel

from callcenter.config import load_config
from callcenter.contract.describe import RouteDoc, doc_of
from callcenter.contract.document import build_document
from composition.app import make_app

WRITES = ("POST", "PUT", "PATCH")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> web.Application:
    """The whole app with its PBX part (agents, call control, lines …); nothing connects."""
    tmp: Path = tmp_path_factory.mktemp("schemas")
    config = load_config(
        None,
        env={},
        overrides={
            "app": {"data_dir": str(tmp / "data")},
            "database": {"url": "postgresql+asyncpg://nobody@127.0.0.1:1/none"},
            "tenants": {"directory": str(tmp / "none")},
        },
    )
    return make_app(config, pbx=True)


def api_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    out = []
    for route in app.router.routes():
        info = route.get_info()
        path = info.get("path") or info.get("formatter") or ""
        if route.method in ("HEAD", "OPTIONS") or not path.startswith("/api/"):
            continue
        if "prefix" in info or "directory" in info:  # the API browser's vendored files
            continue
        out.append((route.method, path, route.handler))
    return out


def _real(model: type[BaseModel]) -> bool:
    if issubclass(model, RootModel):
        return True
    return bool(model.model_json_schema().get("properties"))


def problems(method: str, doc: RouteDoc | None) -> list[str]:
    if doc is None:
        return ["not described"]
    found = []
    for status, answer in doc.responses.items():
        if answer is None and status != 204:
            found.append(f"{status}: no schema")
        elif isinstance(answer, type) and not _real(answer):
            found.append(f"{status}: {answer.__name__} has no properties")
    if method in WRITES and doc.body is None and doc.body_media is None and not doc.no_body:
        found.append("request body not described (or no_body=True)")
    if doc.body is not None and not _real(doc.body):
        found.append(f"body {doc.body.__name__} has no properties")
    return found


def test_every_route_has_a_real_request_and_response_schema(app: web.Application) -> None:
    routes = api_routes(app)
    assert len(routes) > 80
    bad = {
        f"{method} {path}": found
        for method, path, handler in routes
        if (found := problems(method, doc_of(handler)))
    }
    assert bad == {}


def test_the_document_has_every_route_with_its_schemas(app: web.Application) -> None:
    doc = build_document(app, title="t", version="0")
    for method, path, _ in api_routes(app):
        op = doc["paths"][path][method.lower()]
        assert op["x-described"], (method, path)
        for status, answer in op["responses"].items():
            if status.startswith("2") and status != "204":
                (media,) = answer["content"].values() if "content" in answer else [{}]
                ctype = next(iter(answer.get("content", {"": None})))
                assert ctype != "*/*", (method, path, status)
                if ctype == "application/json":
                    assert media.get("schema", {}).get("$ref"), (method, path, status)
