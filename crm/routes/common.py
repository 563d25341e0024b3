"""What every CRM route shares: the URL prefixes, roles, request parsing and error answers.

Bad input answers 400 ``invalid`` naming the ``field`` (:func:`callcenter.api.invalid`).
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from aiohttp import web

from callcenter import api, auth, tenant_ref
from callcenter.db.session import DATABASE, Database
from crm import repository as repo
from crm.contact import ContactData, contact_from_mapping, contact_to_mapping
from crm.mailer import Mailer, MailError
from crm.models import Contact

STAFF = auth.STAFF_ROLES
MANAGERS = (auth.ADMIN, auth.SUPERVISOR)
PREFIX = "/api/crm/tenants/" + tenant_ref.SEGMENT  # slug (or the old numeric id)
SHARED = "/api/crm/shared"


class NoMailer:
    """Used until a mail server is configured: notes stay stored and are retried later."""

    async def send(self, message: EmailMessage) -> None:
        raise MailError("no mail server configured")


CRM_MAILER: web.AppKey[Mailer] = web.AppKey("crm_mailer", Mailer)


invalid = api.invalid
not_found = api.not_found


def db(request: web.Request) -> Database:
    return request.app[DATABASE]


def tenant(request: web.Request, *roles: str) -> tuple[int, auth.Principal]:
    tenant_id = int(request.match_info["tenant_id"])
    return tenant_id, auth.require_tenant(request, tenant_id, *roles)


def scope(request: web.Request, *roles: str) -> tuple[int | None, auth.Principal]:
    """A tenant (``/tenants/{id}/…``) or the secretariat's shared records (``/shared/…``,
    staff only; ``roles`` narrows it further)."""
    if "tenant_id" in request.match_info:
        return tenant(request, *roles)
    allowed = tuple(r for r in (roles or STAFF) if r in STAFF)
    return None, auth.require_role(request, *allowed)


path_int = api.path_int
query_int = api.query_int
json_body = api.json_body


async def contact_json(
    session: Any, contact: Contact, data: ContactData | None = None
) -> dict[str, Any]:
    stored = data if data is not None else await repo.contact_data(session, contact)
    return {
        "id": contact.id,
        "tenant_id": contact.tenant_id,
        "organisation_id": contact.organisation_id,
        "shared": contact.tenant_id is None,
        "created_at": contact.created_at.isoformat(),
        "updated_at": contact.updated_at.isoformat(),
        **contact_to_mapping(stored),
    }


async def parse_contact(request: web.Request, session: Any, tenant_id: int | None) -> ContactData:
    body = await json_body(request)
    return contact_from_mapping(body, await repo.tenant_region(session, tenant_id))


def own(contact: Contact, tenant_id: int | None) -> None:
    """Writes through a tenant's URL only touch that tenant's contacts, never shared ones."""
    if contact.tenant_id != tenant_id:
        raise auth.json_error(
            web.HTTPForbidden, "forbidden", "shared contacts are changed by the secretariat"
        )
