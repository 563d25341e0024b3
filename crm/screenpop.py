"""Screen pop on the bus: live call events in, caller matches and call webhooks out.

:class:`ScreenPop` listens on the ``calls`` topic of the live state. The first time a call
shows its tenant (``call.started`` or ``call.updated`` carrying ``tenant``), the caller is
looked up and a ``crm.match`` event is published on the same topic, so that the wallboard
and the receptionist console show the contact (or "Unknown caller"/"Anonymous") while the
phone still rings; the tenant's ``call.ringing`` webhook is queued with the match.
``call.answered`` and ``call.ended`` become the matching webhooks.

The caller is looked up once per call: the IVR asked the same :class:`CallerIdentity`
before routing, so this question is answered from that lookup. The live state takes the
match from the bus event into the call's view and row. Only ``CC_CONTACT`` goes onto the
channel (:func:`channel_vars`, ``set_var``: AMI ``Setvar``, which works whether the channel
is in Stasis, the dialplan or a queue): ``manager.conf`` lists it in ``channelvars``, so the
contact survives a resync after an AMI reconnect. Tenant facts come from memory
(:class:`callcenter.tenants.TenantFacts`), not a query per event.
"""

from __future__ import annotations

import collections
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from callcenter.bus import Bus, Event
from callcenter.db.session import Database
from callcenter.pbx.channelvars import CC_CONTACT
from callcenter.tenants import TenantFacts
from callcenter.topics import CALLER_MATCHED, TOPIC_CALLS
from crm import webhooks
from crm.lookup import CallerLookup, Match

log = logging.getLogger(__name__)

SetVar = Callable[[str, str, str], Awaitable[None]]
"""``set_var(channel_id, name, value)``, e.g. ``AriClient.set_var``."""

MATCH_EVENT = CALLER_MATCHED
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")


def safe_value(text: str, limit: int = 80) -> str:
    """A string safe as an AMI/ARI variable value: no control characters, bounded length."""
    return _UNSAFE.sub(" ", text).strip()[:limit]


def channel_vars(match: Match) -> dict[str, str]:
    """The channel variables of a match: the contact id only (for the live state's resync
    after an AMI reconnect; everything else travels on the bus)."""
    return {CC_CONTACT: str(match.contact_id) if match.contact_id is not None else ""}


class ScreenPop:
    """Bus subscriber; run :meth:`run` as a background task."""

    def __init__(
        self,
        db: Database,
        lookup: CallerLookup,
        bus: Bus,
        *,
        tenants: TenantFacts | None = None,
        set_var: SetVar | None = None,
        remember: int = 10_000,
    ) -> None:
        self.db = db
        self.lookup = lookup
        self.bus = bus
        self.tenants = tenants or TenantFacts(db)
        self.set_var = set_var
        self.remember = remember
        # Bounded: only calls in progress, oldest forgotten first (never a table cache).
        self._matched: collections.OrderedDict[str, Match] = collections.OrderedDict()

    async def _tenant(self, slug: str) -> tuple[int, str] | None:
        fact = await self.tenants.get(slug)
        return None if fact is None else (fact.id, fact.region)

    def match_of(self, linkedid: str) -> Match | None:
        """The match of a call still in progress, if it was looked up."""
        return self._matched.get(linkedid)

    async def handle(self, event: Event) -> Match | None:
        """Process one ``calls`` event; returns the match when one was made."""
        kind = event.get("type")
        linkedid = event.get("linkedid")
        slug = event.get("tenant")
        if not isinstance(linkedid, str) or not isinstance(slug, str) or not slug:
            return None
        if kind in ("call.started", "call.updated"):
            if linkedid in self._matched:
                return None
            return await self._match(linkedid, slug, event)
        if kind in ("call.answered", "call.ended"):
            match = (
                self._matched.pop(linkedid, None)
                if kind == "call.ended"
                else self._matched.get(linkedid)
            )
            tenant = await self._tenant(slug)
            if tenant is not None:
                async with self.db.session() as s:
                    await webhooks.enqueue(s, tenant[0], kind, self._payload(event, match))
        return None

    async def _match(self, linkedid: str, slug: str, event: Event) -> Match | None:
        tenant = await self._tenant(slug)
        if tenant is None:
            log.warning("screen pop: call %s names unknown tenant %r", linkedid, slug)
            return None
        tenant_id, region = tenant
        match = await self.lookup.lookup(tenant_id, event.get("caller"), region)
        self._matched[linkedid] = match
        while len(self._matched) > self.remember:
            self._matched.popitem(last=False)
        # The channel that got the tenant (the inbound leg, where the IVR/queue runs); the
        # linkedid's channel is a fallback: with Local channels it is the other half.
        channel = event.get("channel")
        channel_id = channel if isinstance(channel, str) else linkedid
        await self.bus.publish(
            TOPIC_CALLS,
            {
                "type": MATCH_EVENT,
                "linkedid": linkedid,
                "tenant": slug,
                "channel": channel_id,
                "match": match.to_dict(),
            },
        )
        if self.set_var is not None and match.contact_id is not None:
            await self._put_on_channel(channel_id, match)
        await webhooks.emit(self.db, tenant_id, "call.ringing", self._payload(event, match))
        return match

    async def _put_on_channel(self, channel_id: str, match: Match) -> None:
        """Set ``CC_CONTACT`` on the call's channel (kept across a live-state resync)."""
        assert self.set_var is not None
        try:
            for name, value in channel_vars(match).items():
                await self.set_var(channel_id, name, value)
        except Exception as exc:  # the caller may already have hung up
            log.info("screen pop: could not set variables on %s: %s", channel_id, exc)

    @staticmethod
    def _payload(event: Event, match: Match | None) -> dict[str, Any]:
        keys = ("linkedid", "tenant", "caller", "queue", "agent", "outcome", "wait", "talk")
        data = {k: event.get(k) for k in keys if k in event}
        data["match"] = match.to_dict() if match is not None else None
        return data

    async def run(self) -> None:
        """Consume the ``calls`` topic until cancelled; one bad event never stops it."""
        async for _topic, event in self.bus.subscribe(TOPIC_CALLS):
            if event.get("type") == MATCH_EVENT:
                continue
            try:
                await self.handle(event)
            except Exception:  # a DB hiccup must not end the screen pop for later calls
                log.exception("screen pop failed for event %s", event.get("type"))
