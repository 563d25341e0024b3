"""What every voicemail route shares: the URL prefix, roles, the feature's services and the
error answers (400 ``invalid`` naming the ``field``: :func:`callcenter.api.invalid`)."""

from __future__ import annotations

from aiohttp import web

from callcenter import api, auth, tenant_ref
from voicemail.deps import VoicemailDeps

PREFIX = "/api/voicemail/tenants/" + tenant_ref.SEGMENT  # slug (or the old numeric id)
DEPS: web.AppKey[VoicemailDeps] = web.AppKey("voicemail_deps", VoicemailDeps)
STAFF = auth.STAFF_ROLES
TAGS = ("voicemail",)


invalid = api.invalid


def not_found(what: str) -> web.HTTPException:
    return auth.json_error(web.HTTPNotFound, "not_found", what)


def tenant(request: web.Request, *roles: str) -> tuple[int, auth.Principal]:
    tenant_id = int(request.match_info["tenant_id"])
    return tenant_id, auth.require_tenant(request, tenant_id, *roles)


def deps(request: web.Request) -> VoicemailDeps:
    return request.app[DEPS]


body = api.json_body
