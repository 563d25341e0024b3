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
   :data:`callcenter.phone.numbers.MIN_PREFIX_DIGITS` digits and is either entered
   explicitly or derived from a switchboard written ``030 12345-0`` (base ``+493012345``).
   So a call from ``+49 30 12345-67`` finds "Müller GmbH" even though that extension is in
   no contact.
5. Otherwise → ``unknown``.

Cost: one indexed equality probe (``crm_contact_numbers(e164, tenant_id)``) plus a probe of
``number_prefix = ANY(≤ 15 candidates)`` / ``switchboard_e164 =`` on their indexes. Nothing
is cached in memory. Never raises for bad caller ids; database errors do propagate (the
caller decides to show "lookup failed").

Two implementations with the same rules: :class:`PgLookup` (the production hot path: a
small dedicated asyncpg pool, one prepared statement, one round trip) and :class:`Lookup`
(SQLAlchemy, any backend including the embedded SQLite).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import bindparam, case, func, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.phone.numbers import DEFAULT_REGION, classify_caller, prefixes_of
from crm.models import Contact, ContactNumber, Organisation

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


class CallerLookup(Protocol):
    """What the call path needs; both implementations below satisfy it."""

    async def lookup(
        self, tenant_id: int, caller_raw: str | None, region: str = DEFAULT_REGION
    ) -> Match: ...


def _pre_check(caller_raw: str | None, region: str) -> Match | str:
    """The verdict for withheld/invalid ids, or the caller's E.164 to look up."""
    caller = classify_caller(caller_raw, region)
    if caller.kind == "anonymous":
        return Match("anonymous", caller.raw)
    if caller.kind == "invalid" or caller.e164 is None:
        return Match("invalid", caller.raw, reason=caller.reason)
    return caller.e164


def _contact_match(raw: str, e164: str, rows: Sequence[Sequence[Any]]) -> Match:
    """rows: (id, name, vip, language, tags, shared, org_id, org_name), best first."""
    first = rows[0]
    tags = first[4]
    if isinstance(tags, str):  # asyncpg hands JSONB over as text
        tags = json.loads(tags)
    return Match(
        "contact",
        raw,
        e164=e164,
        contact_id=first[0],
        display_name=first[1],
        vip=bool(first[2]),
        language=first[3],
        tags=tuple(tags or ()),
        shared=bool(first[5]),
        organisation_id=first[6],
        organisation_name=first[7],
        ambiguous=len(rows) > 1 and bool(rows[1][5]) == bool(first[5]),
        via="number",
    )


def _org_match(raw: str, e164: str, row: Sequence[Any]) -> Match:
    """row: (org_id, name, shared, exact switchboard match)."""
    org_id, name, shared, exact = row
    return Match(
        "organisation",
        raw,
        e164=e164,
        organisation_id=org_id,
        organisation_name=name,
        shared=bool(shared),
        via="switchboard" if exact else "prefix",
    )


# Built once: constructing SQLAlchemy statements per call costs more than the query.
_CONTACT_STMT = (
    select(
        Contact.id,
        Contact.display_name,
        Contact.vip,
        Contact.language,
        Contact.tags,
        ContactNumber.tenant_id.is_(None),
        Organisation.id,
        Organisation.name,
    )
    .select_from(ContactNumber)
    .join(Contact, Contact.id == ContactNumber.contact_id)
    .outerjoin(Organisation, Organisation.id == Contact.organisation_id)
    .where(
        ContactNumber.e164 == bindparam("e164"),
        or_(ContactNumber.tenant_id == bindparam("tenant"), ContactNumber.tenant_id.is_(None)),
    )
    .order_by(ContactNumber.tenant_id.is_(None), Contact.vip.desc(), Contact.id)
    .limit(2)
)
_ORG_STMT = (
    select(
        Organisation.id,
        Organisation.name,
        Organisation.tenant_id.is_(None),
        Organisation.switchboard_e164 == bindparam("e164"),
    )
    .where(
        or_(Organisation.tenant_id == bindparam("tenant"), Organisation.tenant_id.is_(None)),
        or_(
            Organisation.number_prefix.in_(bindparam("prefixes", expanding=True)),
            Organisation.switchboard_e164 == bindparam("e164"),
        ),
    )
    .order_by(
        case(
            (Organisation.switchboard_e164 == bindparam("e164"), 100),
            else_=func.length(Organisation.number_prefix),
        ).desc(),
        Organisation.tenant_id.is_(None),
        Organisation.id,
    )
    .limit(1)
)


class Lookup:
    """Caller lookup through SQLAlchemy (any backend); one pooled connection per call."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def lookup(
        self, tenant_id: int, caller_raw: str | None, region: str = DEFAULT_REGION
    ) -> Match:
        """Find who is calling ``tenant_id``; see the module doc for the rules."""
        pre = _pre_check(caller_raw, region)
        if isinstance(pre, Match):
            return pre
        e164, raw = pre, (caller_raw or "").strip()
        params = {"e164": e164, "tenant": tenant_id}
        async with self.engine.connect() as conn:
            rows = (await conn.execute(_CONTACT_STMT, params)).all()
            if rows:
                return _contact_match(raw, e164, rows)
            org = (await conn.execute(_ORG_STMT, {**params, "prefixes": prefixes_of(e164)})).first()
        if org is not None:
            return _org_match(raw, e164, org)
        return Match("unknown", raw, e164=e164)


# One statement, one round trip: the contact probe and the organisation probe together.
# The organisation probe runs only when no contact matched (a one-time InitPlan filter).
PG_LOOKUP_SQL = """
WITH c AS MATERIALIZED (
  SELECT 0 AS k, c.id, c.display_name, c.vip, c.language, c.tags::text AS tags,
         n.tenant_id IS NULL AS shared, o.id AS org_id, o.name AS org_name, false AS exact
    FROM crm_contact_numbers n
    JOIN crm_contacts c ON c.id = n.contact_id
    LEFT JOIN crm_organisations o ON o.id = c.organisation_id
   WHERE n.e164 = $1 AND (n.tenant_id = $2 OR n.tenant_id IS NULL)
   ORDER BY n.tenant_id IS NULL, c.vip DESC, c.id
   LIMIT 2)
SELECT * FROM c
UNION ALL
(SELECT 1, NULL, NULL, NULL, NULL, NULL, o.tenant_id IS NULL, o.id, o.name,
        o.switchboard_e164 IS NOT DISTINCT FROM $1
   FROM crm_organisations o
  WHERE NOT EXISTS (SELECT 1 FROM c)
    AND (o.tenant_id = $2 OR o.tenant_id IS NULL)
    AND (o.number_prefix = ANY($3::varchar[]) OR o.switchboard_e164 = $1)
  ORDER BY CASE WHEN o.switchboard_e164 = $1 THEN 100 ELSE length(o.number_prefix) END DESC,
           o.tenant_id IS NULL, o.id
  LIMIT 1)
"""


def asyncpg_dsn(url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy) → ``postgresql://…`` (asyncpg)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


async def _prepare_lookup(conn: asyncpg.Connection) -> None:
    """Pool ``init``: prepare and plan the lookup statement on every new connection, so the
    first caller on a connection does not pay Parse and planning (≈0.5 ms)."""
    # Not migrated yet: the statement is prepared on first use instead.
    with contextlib.suppress(asyncpg.UndefinedTableError):
        await conn.fetch(PG_LOOKUP_SQL, "+0", 0, [])


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool ``reset``: nothing to undo. The pool's default reset runs ``RESET ALL; CLOSE
    ALL; UNLISTEN *; pg_advisory_unlock_all()`` after every query, a second round trip per
    lookup; this pool only ever runs one read-only statement outside transactions (asyncpg
    still rolls back a transaction left open before calling this)."""


class PgLookup:
    """The screen-pop hot path on PostgreSQL: a dedicated asyncpg pool, so a lookup never
    waits behind the application's other queries, and asyncpg's per-connection prepared
    statement cache, so each call is one Bind/Execute round trip.

    All connections are opened, and the statement prepared with its generic plan, up
    front: the plan does not depend on the numbers (equality on indexed columns), and
    PostgreSQL would otherwise plan each of the first five executions per connection anew.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, url: str, *, size: int = 2) -> PgLookup:
        """Open ``size`` connections (about the number of cores: more backends than cores
        only queue on the CPU and lengthen the tail)."""
        pool = await asyncpg.create_pool(
            asyncpg_dsn(url),
            min_size=size,
            max_size=size,
            init=_prepare_lookup,
            reset=_keep_session,
            server_settings={"plan_cache_mode": "force_generic_plan"},
        )
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    async def lookup(
        self, tenant_id: int, caller_raw: str | None, region: str = DEFAULT_REGION
    ) -> Match:
        """Find who is calling ``tenant_id``; see the module doc for the rules."""
        pre = _pre_check(caller_raw, region)
        if isinstance(pre, Match):
            return pre
        e164, raw = pre, (caller_raw or "").strip()
        rows = await self.pool.fetch(PG_LOOKUP_SQL, e164, tenant_id, prefixes_of(e164))
        contacts = [r[1:9] for r in rows if r[0] == 0]
        if contacts:
            return _contact_match(raw, e164, contacts)
        for r in rows:
            return _org_match(raw, e164, (r["org_id"], r["org_name"], r["shared"], r["exact"]))
        return Match("unknown", raw, e164=e164)
