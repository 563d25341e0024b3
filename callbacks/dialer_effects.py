"""The dialler's effects (:mod:`callbacks.dispatch`) carried out over ARI, in order."""

from __future__ import annotations

import asyncio
import logging

from callbacks.dialer_core import DialerState
from callbacks.dispatch import (
    PURPOSE_CUSTOMER,
    PURPOSE_SLOT,
    QUEUE_CONTEXT,
    SLOT_CONTEXT,
    Bridge,
    CallDirect,
    CreatePlaceholder,
    DialCustomer,
    Effect,
    HangUp,
    Job,
    Publish,
    Ring,
)
from callcenter.pbx.ari.errors import AriError

log = logging.getLogger("callbacks.dialer")


class EffectRunner(DialerState):
    async def _execute(self, job: Job, effects: list[Effect]) -> None:
        for effect in effects:
            try:
                await self._apply(job, effect)
            except AriError as exc:
                log.warning("callback %s: %s failed: %s", job.id, type(effect).__name__, exc)
                await self._failed(job, effect, exc)

    async def _apply(self, job: Job, effect: Effect) -> None:
        ari = self._ari
        log.debug("callback %s: %s", job.id, effect)
        match effect:
            case CreatePlaceholder():
                self._slot_arrival[effect.other_id] = asyncio.Event()
                await ari.originate(
                    f"Local/s@{SLOT_CONTEXT}/n",
                    context=QUEUE_CONTEXT,
                    extension=effect.queue,
                    priority=1,
                    variables={**effect.variables, "CC_CB_APP": ari.app},
                    channel_id=effect.slot_id,
                    other_channel_id=effect.other_id,
                    formats=self._slot_formats,
                )
            case CallDirect():
                await ari.originate(
                    effect.interface,
                    app=ari.app,
                    app_args=[PURPOSE_SLOT],
                    caller_id=effect.caller_id,
                    timeout=effect.ring_s,
                    variables=effect.variables,
                    channel_id=effect.channel_id,
                )
            case DialCustomer():
                self.dialled.append(effect.channel_id)
                await ari.originate(
                    self._endpoint.format(number=effect.number),
                    app=ari.app,
                    app_args=[PURPOSE_CUSTOMER],
                    caller_id=effect.caller_id,
                    timeout=effect.timeout_s,
                    variables=effect.variables,
                    channel_id=effect.channel_id,
                    # Only a Local pair: a SIP endpoint negotiates its own codecs.
                    formats=self._slot_formats if self._endpoint.startswith("Local/") else None,
                )
            case Ring():
                await ari.ring(effect.channel_id)
            case Bridge():
                await ari.create_bridge(bridge_id=effect.bridge_id)
                await ari.add_channel(effect.bridge_id, list(effect.channels))
            case HangUp():
                try:
                    await ari.hangup(effect.channel_id)
                except AriError as exc:
                    if exc.status != 404:
                        raise
            case Publish():
                try:
                    await self._publish(effect.event, effect.payload)
                except Exception as exc:  # Redis down: the tables stay the truth
                    log.info("callback event %s not published: %s", effect.event, exc)

    async def _failed(self, job: Job, effect: Effect, exc: AriError) -> None:
        now = self._clock()
        match effect:
            case CreatePlaceholder() | CallDirect() if exc.status != 409:
                # 409: that placeholder exists already (the PBX refused a second one).
                if isinstance(effect, CreatePlaceholder):
                    self._slot_arrival.pop(effect.other_id, None)
                await self.leases.release(job.id, job.token, now)
                self.jobs.pop(job.id, None)
                self._direct.pop(job.id, None)
            case DialCustomer() if exc.status != 409:
                attempt = self._attempt.get(job.id, job.attempts)
                await self._customer_gone(job.id, attempt, 0, now)
            case _:
                pass
