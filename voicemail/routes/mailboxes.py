"""``GET/PUT /api/voicemail/tenants/{tenant}/mailboxes/{box}``: a mailbox's recipients,
greetings, limits, review and retention (``*``: the tenant's defaults)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from callcenter import auth
from callcenter.contract import described
from voicemail import schemas as sc
from voicemail.models import Mailbox
from voicemail.routes.common import PREFIX, TAGS, body, deps, invalid, not_found, tenant

_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
_BOX = re.compile(r"^(\*|[a-z0-9][a-z0-9_-]{0,39})$")
routes = web.RouteTableDef()


def _box_view(box: Mailbox) -> dict[str, Any]:
    return {
        "mailbox": box.mailbox,
        "recipients": list(box.recipients or []),
        "greetings": dict(box.greetings or {}),
        "max_seconds": box.max_seconds,
        "silence_seconds": box.silence_seconds,
        "review": box.review,
        "staff_id": box.staff_id,
        "retention_days": box.retention_days,
    }


def _box_name(request: web.Request) -> str:
    name = request.match_info["mailbox"]
    if not _BOX.match(name):
        raise invalid("mailbox", "lower-case letters, digits, '-' or '_' (or '*')")
    return name


@routes.get(PREFIX + "/mailboxes/{mailbox}")
@described("A mailbox's settings", responses={200: sc.MailboxOut}, tags=TAGS)
async def get_box(request: web.Request) -> web.Response:
    tenant_id, _ = tenant(request)
    name = _box_name(request)
    async with deps(request).db.session() as s:
        box = await s.get(Mailbox, (tenant_id, name))
    if box is None:
        raise not_found(f"mailbox {name} has no settings")
    return web.json_response(_box_view(box))


def _int_field(data: Mapping[str, Any], key: str, lo: int, hi: int, default: int | None) -> Any:
    value = data.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise invalid(key, f"must be an integer {lo}..{hi}")
    return value


@routes.put(PREFIX + "/mailboxes/{mailbox}")
@described(
    "Set a mailbox's settings ('*': the tenant's defaults)",
    body=sc.MailboxIn,
    responses={200: sc.MailboxOut},
    tags=TAGS,
)
async def put_box(request: web.Request) -> web.Response:
    tenant_id, _ = tenant(request, auth.ADMIN, auth.SUPERVISOR)
    name = _box_name(request)
    data = await body(request)
    recipients = data.get("recipients", [])
    if not isinstance(recipients, list) or not all(
        isinstance(r, str) and _EMAIL.match(r) for r in recipients
    ):
        raise invalid("recipients", "must be a list of e-mail addresses")
    greetings = data.get("greetings", {})
    if not isinstance(greetings, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and re.match(r"^(sound|recording):[\w/.-]+$", v)
        for k, v in greetings.items()
    ):
        raise invalid("greetings", "must map languages to sound:… or recording:… media")
    review = data.get("review", False)
    if not isinstance(review, bool):
        raise invalid("review", "must be true or false")
    staff = data.get("staff_id")
    if staff is not None and (not isinstance(staff, str) or len(staff) > 64):
        raise invalid("staff_id", "must be a string of at most 64 characters")
    values = {
        "recipients": recipients,
        "greetings": greetings,
        "max_seconds": _int_field(data, "max_seconds", 5, 3600, 180),
        "silence_seconds": _int_field(data, "silence_seconds", 0, 60, 6),
        "review": review,
        "staff_id": staff,
        "retention_days": _int_field(data, "retention_days", 1, 3650, None),
    }
    async with deps(request).db.session() as s:
        box = await s.get(Mailbox, (tenant_id, name))
        if box is None:
            box = Mailbox(tenant_id=tenant_id, mailbox=name)
            s.add(box)
        for key, value in values.items():
            setattr(box, key, value)
        await s.flush()
        view = _box_view(box)
    return web.json_response(view)
