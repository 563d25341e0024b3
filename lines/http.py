"""HTTP routes of the lines feature: trunk and phone status, phone provisioning.

A new phone's (or a reset) password is in the answer of that one request and nowhere
else: the database keeps only its digest.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter import api, auth
from callcenter.contract import described
from lines.models import Phone
from lines.phones import PhoneError, check_kind, check_label, check_name
from lines.schemas import LinesStatus, NewPassword, PhoneCreated, PhoneIn, PhoneList
from lines.service import LINES, LinesService
from lines.store import NewCredentials, PhoneStore

TAGS = ("lines",)
ADMIN = ("admin",)
VIEW = ("admin", "supervisor")
STORE: web.AppKey[PhoneStore] = web.AppKey("lines_phone_store", PhoneStore)


@described("Trunks and phones with their status", responses={200: LinesStatus}, tags=TAGS)
async def lines_status(request: web.Request) -> web.Response:
    """``GET /api/lines``: every trunk and phone with ``up`` and what it is based on."""
    auth.require_role(request, *VIEW)
    return web.json_response(request.app[LINES].snapshot())


@described("Provisioned phones and their registration", responses={200: PhoneList}, tags=TAGS)
async def list_phones(request: web.Request) -> web.Response:
    """``GET /api/phones``: the provisioned phones with their registration state."""
    auth.require_role(request, *VIEW)
    service = request.app[LINES]
    phones = await request.app[STORE].all()
    return web.json_response({"phones": [_view(p, service) for p in phones]})


@described(
    "Provision a phone (the password is in this answer only)",
    body=PhoneIn,
    responses={201: PhoneCreated},
    tags=TAGS,
)
async def create_phone(request: web.Request) -> web.Response:
    """``POST /api/phones {name, kind, label, auto_answer}`` → 201 with the password once."""
    auth.require_role(request, *ADMIN)
    body = await _body(request)
    unknown = set(body) - {"name", "kind", "label", "auto_answer"}
    if unknown:
        raise _invalid(sorted(unknown)[0], "unknown field")
    try:
        name = check_name(body.get("name"))
        kind = check_kind(body.get("kind", "sip"))
        label = check_label(body.get("label", ""))
    except PhoneError as exc:
        raise _invalid(exc.field, str(exc)) from None
    auto_answer = body.get("auto_answer", True)
    if not isinstance(auto_answer, bool):
        raise _invalid("auto_answer", "must be true or false")
    service = request.app[LINES]
    try:
        phone, creds = await request.app[STORE].create(
            name, kind, label, service.realm, auto_answer=auto_answer
        )
    except PhoneError as exc:
        raise auth.json_error(web.HTTPConflict, "conflict", str(exc)) from None
    await service.refresh_phones(request.app[STORE], announce=True)
    body = {"phone": _view(phone, service), "credentials": _credentials(service, creds)}
    return web.json_response(body, status=201)


@described(
    "A new password for a phone (shown once)", responses={200: NewPassword}, no_body=True, tags=TAGS
)
async def reset_password(request: web.Request) -> web.Response:
    """``POST /api/phones/{name}/password`` → a new password, shown once."""
    auth.require_role(request, *ADMIN)
    service = request.app[LINES]
    creds = await request.app[STORE].new_password(request.match_info["name"], service.realm)
    if creds is None:
        raise _missing(request.match_info["name"])
    await service.refresh_phones(request.app[STORE], announce=True)
    return web.json_response({"credentials": _credentials(service, creds)})


@described("Remove a phone from the PBX", responses={204: None}, tags=TAGS)
async def delete_phone(request: web.Request) -> web.Response:
    auth.require_role(request, *ADMIN)
    if not await request.app[STORE].delete(request.match_info["name"]):
        raise _missing(request.match_info["name"])
    await request.app[LINES].refresh_phones(request.app[STORE], announce=True)
    return web.Response(status=204)


def _view(phone: Phone, service: LinesService) -> dict[str, Any]:
    line = service.status.lines.get(phone.name)
    return {
        "name": phone.name,
        "kind": phone.kind,
        "label": phone.label,
        "auto_answer": phone.auto_answer,
        "interface": f"PJSIP/{phone.name}",
        "registered": bool(line and line.up),
        "device_state": line.device_state if line else "unknown",
    }


def _credentials(service: LinesService, creds: NewCredentials) -> dict[str, Any]:
    return {
        "username": creds.name,
        "password": creds.password,
        "realm": creds.realm,
        "registrar": service.registrar,
        "note": "shown once: the server keeps only a digest of this password",
    }


_body = api.json_body


_invalid = api.invalid


def _missing(name: str) -> web.HTTPException:
    return auth.json_error(web.HTTPNotFound, "not_found", f"no phone {name!r}")


def setup(app: web.Application, service: LinesService, store: PhoneStore) -> None:
    app[LINES] = service
    app[STORE] = store
    app.router.add_get("/api/lines", lines_status)
    app.router.add_get("/api/phones", list_phones)
    app.router.add_post("/api/phones", create_phone)
    app.router.add_post("/api/phones/{name}/password", reset_password)
    app.router.add_delete("/api/phones/{name}", delete_phone)
