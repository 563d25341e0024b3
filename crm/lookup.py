"""Caller lookup for the screen pop: caller id → contact, organisation, or a clear verdict.

Rules, in order (the first that applies wins):

1. The caller id is withheld (``anonymous``, ``restricted``, empty, …) → ``anonymous``.
2. It does not normalise to a possible E.164 number → ``invalid`` (with the reason).
3. **Exact number**: a contact number whose E.164 equals the caller's, among the tenant's
   own contacts first, then the secretariat's shared contacts (``tenant_id`` NULL). Among
   several contacts in the same scope: VIP first, then the oldest (lowest id); ``ambiguous``
   is set so the console can offer the choice.
4. **Organisation**: an organisation visible to the tenant whose *switchboard number equals*
   the caller's, or whose *direct-dial prefix* is a prefix of it. The longest match wins (an
   exact switchboard match counts as the full length); ties go to the tenant's own
   organisation, then the lowest id. A prefix has at least
   :data:`crm.numbers.MIN_PREFIX_DIGITS` digits and is either entered explicitly or derived
   from a switchboard written ``030 12345-0`` (base ``+493012345``). So a call from
   ``+49 30 12345-67`` finds "Müller GmbH" even though that extension is in no contact.
5. Otherwise → ``unknown``.

Cost: one indexed equality probe (``crm_contact_numbers(e164, tenant_id)``) for known
numbers; on a miss one more probe of ``number_prefix IN (≤ 15 candidates)`` and
``switchboard_e164 =`` on their indexes. Nothing is cached in memory. Never raises for
bad caller ids; database errors do propagate (the caller decides to show "lookup failed").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm.models import Contact, ContactNumber, Organisation
from crm.numbers import DEFAULT_REGION, classify_caller, prefixes_of

MatchStatus = Literal["contact", "organisation", "unknown", "anonymous", "invalid"]

_LABELS = {
    "unknown": "Unknown caller",
    "anonymous": "Anonymous",
    "invalid": "Invalid caller id",
}


@dataclass(frozen=True, slots=True)
class Match:
    """The lookup verdict that goes onto the call, the live state and the queue hand-off."""

    status: MatchStatus
    caller_raw: str
    e164: str | None = None
    contact_id: int | None = None
    display_name: str | None = None
    organisation_id: int | None = None
    organisation_name: str | None = None
    vip: bool = False
    language: str | None = None
    tags: tuple[str, ...] = ()
    shared: bool = False  # matched a record of the secretariat, not the tenant's own
    ambiguous: bool = False  # several contacts in the same scope share the number
    via: Literal["number", "switchboard", "prefix"] | None = None
    reason: str | None = None  # for "invalid"

    @property
    def label(self) -> str:
        """What the screen shows: the name, the organisation, or Unknown/Anonymous."""
        return self.display_name or self.organisation_name or _LABELS.get(self.status, "")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        data["label"] = self.label
        return data


def _contact_query(e164: str, tenant_id: int) -> Any:
    return (
        select(
            Contact.id,
            Contact.display_name,
            Contact.vip,
            Contact.language,
            Contact.tags,
            ContactNumber.tenant_id,
            Organisation.id,
            Organisation.name,
        )
        .select_from(ContactNumber)
        .join(Contact, Contact.id == ContactNumber.contact_id)
        .outerjoin(Organisation, Organisation.id == Contact.organisation_id)
        .where(
            ContactNumber.e164 == e164,
            or_(ContactNumber.tenant_id == tenant_id, ContactNumber.tenant_id.is_(None)),
        )
        .order_by(ContactNumber.tenant_id.is_(None), Contact.vip.desc(), Contact.id)
        .limit(2)
    )


def _org_query(e164: str, tenant_id: int) -> Any:
    match_len = case(
        (Organisation.switchboard_e164 == e164, len(e164) + 1),
        else_=func.length(Organisation.number_prefix),
    )
    return (
        select(
            Organisation.id,
            Organisation.name,
            Organisation.tenant_id,
            Organisation.switchboard_e164 == e164,
        )
        .where(
            or_(Organisation.tenant_id == tenant_id, Organisation.tenant_id.is_(None)),
            or_(
                Organisation.number_prefix.in_(prefixes_of(e164)),
                Organisation.switchboard_e164 == e164,
            ),
        )
        .order_by(match_len.desc(), Organisation.tenant_id.is_(None), Organisation.id)
        .limit(1)
    )


class Lookup:
    """Caller lookup against the database; one short-lived connection per call."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def lookup(
        self, tenant_id: int, caller_raw: str | None, region: str = DEFAULT_REGION
    ) -> Match:
        """Find who is calling ``tenant_id``; see the module doc for the rules."""
        caller = classify_caller(caller_raw, region)
        if caller.kind == "anonymous":
            return Match("anonymous", caller.raw)
        if caller.kind == "invalid" or caller.e164 is None:
            return Match("invalid", caller.raw, reason=caller.reason)
        e164 = caller.e164
        async with self.engine.connect() as conn:
            rows = (await conn.execute(_contact_query(e164, tenant_id))).all()
            if rows:
                first = rows[0]
                ambiguous = len(rows) > 1 and (rows[1][5] is None) == (first[5] is None)
                return Match(
                    "contact",
                    caller.raw,
                    e164=e164,
                    contact_id=first[0],
                    display_name=first[1],
                    vip=bool(first[2]),
                    language=first[3],
                    tags=tuple(first[4] or ()),
                    shared=first[5] is None,
                    organisation_id=first[6],
                    organisation_name=first[7],
                    ambiguous=ambiguous,
                    via="number",
                )
            org = (await conn.execute(_org_query(e164, tenant_id))).first()
        if org is not None:
            return Match(
                "organisation",
                caller.raw,
                e164=e164,
                organisation_id=org[0],
                organisation_name=org[1],
                shared=org[2] is None,
                via="switchboard" if org[3] else "prefix",
            )
        return Match("unknown", caller.raw, e164=e164)
