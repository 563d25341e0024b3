"""``GET /api/openapi.json`` (the document) and ``GET /api/docs`` (Swagger UI, vendored:
no CDN, works offline). Both public: the contract is no secret, the data behind it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from callcenter import __version__
from callcenter.contract.describe import described
from callcenter.contract.document import build_document

STATIC = Path(__file__).parent / "static" / "swagger-ui"
DOCUMENT: web.AppKey[dict[str, str]] = web.AppKey("openapi_document", dict)
"""Cache of the rendered document (filled on first request, when every route is added)."""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>callcenter API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script></body></html>
"""
_INIT = """window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#ui",
  deepLinking: true, persistAuthorization: true});
"""


class OpenApiDocument(BaseModel):
    """This document."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


@described("The OpenAPI 3.1 document of this API", responses={200: OpenApiDocument}, public=True)
async def openapi_json(request: web.Request) -> web.Response:
    cache = request.app[DOCUMENT]
    if "json" not in cache:
        doc = build_document(request.app, title="callcenter", version=__version__)
        cache["json"] = json.dumps(doc, ensure_ascii=False)
    return web.Response(text=cache["json"], content_type="application/json")


@described("The API browser (Swagger UI, offline)", responses={200: "text/html"}, public=True)
async def docs_page(_request: web.Request) -> web.Response:
    return web.Response(text=_PAGE, content_type="text/html")


@described("The API browser's start script", responses={200: "text/javascript"}, public=True)
async def docs_init(_request: web.Request) -> web.Response:
    return web.Response(text=_INIT, content_type="text/javascript")


def setup(app: web.Application) -> None:
    """Add the document, the browser and its vendored assets."""
    app[DOCUMENT] = {}
    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs_page)
    app.router.add_get("/api/docs/init.js", docs_init)
    app.router.add_static("/api/docs/static/", STATIC)
