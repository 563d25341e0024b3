"""A tenant's webhook endpoints and their delivery log."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from callcenter.contract import described
from crm import repository as repo
from crm import schemas as S
from crm import webhook_log, webhooks
from crm.models import WebhookEndpoint
from crm.routes.common import MANAGERS, PREFIX, db, json_body, path_int, query_int, tenant

routes = web.RouteTableDef()


@routes.get(PREFIX + "/webhooks")
@described("Webhook endpoints", responses={200: S.WebhookList}, tags=("crm",))
async def list_webhooks(request: web.Request) -> web.Response:
    tenant_id, _ = tenant(request, *MANAGERS)
    async with db(request).session() as s:
        rows = await s.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id)
            .order_by(WebhookEndpoint.id)
        )
        return web.json_response({"items": [webhook_log.endpoint_view(e) for e in rows]})


@routes.post(PREFIX + "/webhooks")
@described(
    "Register a webhook endpoint",
    body=S.WebhookIn,
    responses={201: S.WebhookCreated},
    tags=("crm",),
)
async def create_webhook(request: web.Request) -> web.Response:
    """Register an endpoint; the answer carries the secret, shown this once."""
    tenant_id, _ = tenant(request, *MANAGERS)
    url, events, description = webhooks.validate_endpoint(await json_body(request))
    async with db(request).session() as s:
        ep = await webhooks.create_endpoint(s, tenant_id, url, events, description=description)
    return web.json_response(webhook_log.endpoint_view(ep, with_secret=True), status=201)


@routes.delete(PREFIX + "/webhooks/{endpoint_id:\\d+}")
@described("Remove a webhook endpoint", responses={200: S.Deleted}, tags=("crm",))
async def delete_webhook(request: web.Request) -> web.Response:
    tenant_id, _ = tenant(request, *MANAGERS)
    async with db(request).session() as s:
        ep = await s.get(WebhookEndpoint, path_int(request, "endpoint_id"))
        if ep is None or ep.tenant_id != tenant_id:
            raise repo.NotFound("webhook endpoint not found")
        await s.delete(ep)
    return web.json_response({"deleted": ep.id})


@routes.get(PREFIX + "/webhooks/deliveries")
@described(
    "Webhook deliveries with every attempt, newest first",
    query=S.DeliveryQuery,
    responses={200: S.DeliveryList},
    tags=("crm",),
)
async def webhook_deliveries(request: web.Request) -> web.Response:
    tenant_id, _ = tenant(request)
    limit = query_int(request, "limit", 100, 1, 1000)
    endpoint = (
        query_int(request, "endpoint_id", 0, 0, 2**62) if "endpoint_id" in request.query else None
    )
    async with db(request).session() as s:
        log = await webhook_log.delivery_log(s, tenant_id, endpoint_id=endpoint, limit=limit)
    return web.json_response({"items": log})
