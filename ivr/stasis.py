"""The IVR on ARI: a thin runner that feeds Stasis events to :class:`IvrSession` machines
and carries out their effects with ARI requests.

Each call gets its own inbox and task, so one slow request never delays another caller's
events, and a call's events are handled strictly in order. Timers are ``loop.call_later``
handles that post a timeout into the call's inbox; the session ignores stale ones.

Hand-offs leave Stasis into the dialplan: queues to ``cc-queue,<queue>,1`` with
``QUEUE_PRIO`` set; voicemail, callback offers and transfers to contexts of their own
(:class:`HandOffTargets`) whose extension is the mailbox, queue or number, with the
``CC_*`` variables set for the feature that picks the call up there: ``cc-voicemail``
records with app_voicemail (:mod:`ivr.voicemail`), ``cc-callback`` re-enters Stasis with
purpose ``callback`` where :mod:`callbacks.desk` confirms the number and stores the
request. After a queue hand-off the ``on_queued`` hook starts position announcements
(:mod:`ivr.position`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import phonenumbers

from callcenter.pbx.ari import playback
from callcenter.pbx.ari.errors import AriError
from callcenter.pbx.ari.events import AriEvent
from callcenter.pbx.ari.playback import Play, StopPlayback
from callcenter.pbx.ari.ports import Answering, HangingUp, Leaving, Playing, SettingVars
from callcenter.phone.did import resolve_did
from callcenter.phone.numbers import normalize_number
from ivr.effects import (
    ContinueToQueue,
    Effect,
    Hangup,
    OfferCallback,
    SendToVoicemail,
    SetLanguage,
    SetVariable,
    StartTimer,
    Transfer,
)
from ivr.engine import IvrSession, queue_decision_effect
from ivr.registry import TenantRegistry
from ivr.routing import CallContext, ClosedAnnouncement, EnterIvr, QueueLoad, route
from ivr.tenancy import Tenant

log = logging.getLogger(__name__)
# (tenant slug, caller E.164) -> (CRM contact id or None, VIP flag)
CallerLookup = Callable[[str, str], Awaitable[tuple[str | None, bool]]]
PURPOSE = "inbound"  # first Stasis() argument of the inbound dialplan
END_EVENTS = frozenset({"StasisEnd", "ChannelDestroyed", "ChannelHangupRequest"})


class IvrAri(Answering, Playing, SettingVars, Leaving, HangingUp, Protocol):
    """The ARI requests the runner needs (:class:`callcenter.pbx.ari.AriRest` has them)."""


@dataclass(frozen=True, slots=True)
class HandOffTargets:
    queue_context: str = "cc-queue"
    voicemail_context: str = "cc-voicemail"
    callback_context: str = "cc-callback"
    transfer_context: str = "cc-transfer"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Call:
    session: IvrSession
    inbox: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    timers: list[asyncio.TimerHandle] = field(default_factory=list)


class IvrRunner:
    """Runs every inbound call of the registry's tenants through its IVR."""

    def __init__(
        self,
        ari: IvrAri,
        registry: TenantRegistry,
        loads: Callable[[], Mapping[str, QueueLoad]] = dict,
        *,
        recordings_media_root: str = "",
        default_region: str = "DE",
        targets: HandOffTargets = HandOffTargets(),
        clock: Callable[[], datetime] = _utcnow,
        on_queued: Callable[[str, str, str, str], None] | None = None,
        caller_lookup: CallerLookup | None = None,
        lookup_timeout: float = 0.3,
    ) -> None:
        self._ari = ari
        self._registry = registry
        self._loads = loads
        self._media_root = recordings_media_root.rstrip("/")
        self._region = default_region
        self._country_code = str(phonenumbers.country_code_for_region(default_region) or 49)
        self._targets = targets
        self._clock = clock
        # (channel id, tenant slug, queue, language) after a queue hand-off, e.g. to start
        # position announcements (ivr.position).
        self._on_queued = on_queued
        # The CRM's word on the caller (contact, VIP) before routing: VIPs get priority.
        self._caller_lookup = caller_lookup
        self._lookup_timeout = lookup_timeout
        self._calls: dict[str, _Call] = {}
        self.outcomes: dict[str, int] = {}  # outcome → count, for metrics and the benchmark

    def _is_did(self, number: str) -> bool:
        return self._registry.by_did(number) is not None

    @property
    def active(self) -> int:
        return len(self._calls)

    # --- events ---------------------------------------------------------------------------

    async def on_stasis_start(self, event: AriEvent) -> None:
        """Handler for the ``inbound`` Stasis purpose."""
        channel = event.channel
        if channel is None:
            return
        # Carriers send the DID as +49…, 0049…, 0… or without any prefix: the reading
        # that is one of our DIDs wins (callcenter.phone.did).
        did = resolve_did(channel.dialplan.exten, self._is_did, self._country_code) or ""
        tenant = self._registry.by_did(did)
        if tenant is None:  # not ours: let the dialplan's fallback take it
            log.info("ivr: no tenant for DID %r; back to the dialplan", channel.dialplan.exten)
            await self._quietly(self._ari.continue_in_dialplan(channel.id))
            return
        caller = normalize_number(channel.caller.number, self._region)
        contact_id, vip = await self._crm_hint(tenant.slug, caller)
        call = CallContext(
            did=did,
            caller_e164=caller,
            now_utc=self._clock(),
            crm_contact_id=contact_id,
            crm_vip=vip,
        )
        session = self._session(tenant, call, channel.id)
        if session is None:
            return
        entry = _Call(session)
        self._calls[channel.id] = entry
        entry.task = asyncio.get_running_loop().create_task(self._run(channel.id, entry))
        entry.inbox.put_nowait(("start", ""))

    async def on_event(self, event: AriEvent) -> None:
        """Handler for all other ARI events (DTMF, playback end, hang-up)."""
        if event.type == "ChannelDtmfReceived":
            self._post(event.channel_id, "dtmf", event.digit)
        elif event.type == "PlaybackFinished":
            playback = event.playback
            if playback is not None and playback.target_uri.startswith("channel:"):
                self._post(playback.target_uri[len("channel:") :], "finished", playback.id)
        elif event.type in END_EVENTS:
            self._post(event.channel_id, "hangup", "")

    async def close(self) -> None:
        for channel_id in list(self._calls):
            self._drop(channel_id)

    # --- per call -------------------------------------------------------------------------

    async def _crm_hint(self, slug: str, caller: str | None) -> tuple[str | None, bool]:
        """(contact id, VIP) from the CRM; a slow or failing CRM never delays the caller
        beyond ``lookup_timeout`` nor breaks routing: the call goes on without the hint."""
        if self._caller_lookup is None or caller is None:
            return None, False
        try:
            async with asyncio.timeout(self._lookup_timeout):
                return await self._caller_lookup(slug, caller)
        except Exception as exc:
            log.warning("ivr: CRM lookup for %s skipped: %s", slug, exc or type(exc).__name__)
            return None, False

    def _session(self, tenant: Tenant, call: CallContext, channel_id: str) -> IvrSession | None:
        decision = route(tenant, call, self._loads())
        media_root = f"{self._media_root}/{tenant.slug}" if self._media_root else ""
        common: dict[str, Any] = {
            "session_id": channel_id,
            "loads": self._loads,
            "recordings_media_root": media_root,
        }
        if isinstance(decision, EnterIvr):
            return IvrSession.from_decision(tenant, call, decision, **common)
        if isinstance(decision, ClosedAnnouncement):
            return IvrSession(
                tenant,
                call,
                language=decision.language,
                entry=decision.node,
                priority=decision.priority,
                **common,
            )
        # A DID straight to a queue: no IVR, hand off at once (overflow rules applied).
        session = IvrSession(tenant, call, language=decision.language, **common)
        effect = queue_decision_effect(tenant, decision, session.variables(), 0)
        asyncio.get_running_loop().create_task(self._direct(channel_id, session, effect))
        return None

    async def _direct(self, channel_id: str, session: IvrSession, effect: Effect) -> None:
        effects = [SetLanguage(session.language.code), effect]
        await self._execute(channel_id, effects)
        self._count("direct")

    def _post(self, channel_id: str | None, kind: str, arg: str) -> None:
        entry = self._calls.get(channel_id or "")
        if entry is not None:
            entry.inbox.put_nowait((kind, arg))

    async def _run(self, channel_id: str, entry: _Call) -> None:
        session = entry.session
        try:
            await self._quietly(self._ari.answer(channel_id))
            while True:
                kind, arg = await entry.inbox.get()
                now = self._clock()
                if kind == "start":
                    effects = session.start(now)
                elif kind == "dtmf":
                    effects = session.on_dtmf(arg, now)
                elif kind == "finished":
                    effects = session.on_playback_finished(arg, now)
                elif kind == "timeout":
                    effects = session.on_timeout(arg, now)
                else:
                    effects = session.on_hangup(now)
                if not await self._execute(channel_id, effects, entry):
                    session.on_hangup(now)
                if session.state == "done":
                    break
        finally:
            self._count(session.outcome or "error")
            self._drop(channel_id)

    def _drop(self, channel_id: str) -> None:
        entry = self._calls.pop(channel_id, None)
        if entry is None:
            return
        for timer in entry.timers:
            timer.cancel()
        if entry.task is not None and entry.task is not asyncio.current_task():
            entry.task.cancel()

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    # --- effects --------------------------------------------------------------------------

    async def _execute(
        self, channel_id: str, effects: Sequence[Effect], entry: _Call | None = None
    ) -> bool:
        """Carry out ``effects`` in order; False once the channel is gone."""
        for effect in effects:
            try:
                await self._apply(channel_id, effect, entry)
            except AriError as exc:
                if exc.status == 404:  # the caller hung up meanwhile
                    return False
                log.warning("ivr: %s on %s failed: %s", type(effect).__name__, channel_id, exc)
        return True

    async def _apply(self, channel_id: str, effect: Effect, entry: _Call | None) -> None:
        ari = self._ari
        match effect:
            case Play() | StopPlayback():
                await playback.perform(ari, channel_id, effect)
            case StartTimer(token=token, seconds=seconds) if entry is not None:
                inbox = entry.inbox
                entry.timers = [t for t in entry.timers if not t.cancelled()]
                entry.timers.append(
                    asyncio.get_running_loop().call_later(
                        seconds, inbox.put_nowait, ("timeout", token)
                    )
                )
            case SetVariable(name=name, value=value):
                await ari.set_var(channel_id, name, value)
            case SetLanguage(language=lang):
                await ari.set_var(channel_id, "CHANNEL(language)", lang)
            case Hangup():
                await self._quietly(ari.hangup(channel_id))
            case _:
                exit_to = self._exit_for(effect)
                if exit_to is not None:
                    await self._leave(channel_id, *exit_to)
                if isinstance(effect, ContinueToQueue) and self._on_queued is not None:
                    variables = effect.variables
                    self._on_queued(
                        channel_id,
                        variables.get("CC_TENANT", ""),
                        effect.queue,
                        variables.get("CC_LANGUAGE", ""),
                    )

    def _exit_for(self, effect: Effect) -> tuple[dict[str, str], str, str] | None:
        """Where an effect that ends the IVR sends the caller: (variables, context, exten)."""
        targets = self._targets
        match effect:
            case ContinueToQueue(queue=queue, priority=prio, variables=variables):
                return {**variables, "QUEUE_PRIO": str(prio)}, targets.queue_context, queue
            case SendToVoicemail(mailbox=box, variables=variables, reason=reason):
                return {**variables, "CC_REASON": reason}, targets.voicemail_context, box or "s"
            case OfferCallback(queue=queue, number=number, variables=variables, reason=reason):
                extra = {"CC_REASON": reason, "CC_CALLBACK_NUMBER": number or ""}
                return {**variables, **extra}, targets.callback_context, queue or "s"
            case Transfer(number=number, staff_id=staff, variables=variables):
                return {**variables, "CC_STAFF": staff}, targets.transfer_context, number
        return None

    async def _leave(
        self, channel_id: str, variables: Mapping[str, str], context: str, extension: str
    ) -> None:
        for name, value in variables.items():
            await self._ari.set_var(channel_id, name, value)
        await self._ari.continue_in_dialplan(channel_id, context, extension, 1)

    async def _quietly(self, request: Any) -> None:
        with contextlib.suppress(AriError):
            await request
