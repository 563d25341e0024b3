"""The IVR of one call as a pure state machine.

Rule of this module: no I/O, no clock, no randomness. Each event method takes the current
time and returns the effects the runner must carry out (play, stop, start a timer, hand
the call to a queue …). Events that do not fit the state (a stale timer token, the end of
a playback that was stopped, DTMF after the hand-off) return no effects.

States: ``playing`` (a prompt runs), ``waiting`` (a menu waits for a key, a timer runs),
``done`` (the call left the IVR or hung up). DTMF during a menu prompt stops the prompt
(barge-in) and counts as the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from callcenter.pbx.ari.playback import Play, StopPlayback
from ivr.announce import next_opening_media
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
from ivr.flow import Node
from ivr.hours import next_opening, status_at
from ivr.prompts import media_uri
from ivr.routing import (
    CallContext,
    EnterIvr,
    EnterQueue,
    Language,
    Overflow,
    QueueDecision,
    QueueLoad,
    decide_queue,
    is_vip,
)
from ivr.tenancy import Tenant

State = Literal["new", "playing", "waiting", "done"]
After = Literal["await_input", "next", "terminal"]
MAX_HOPS = 32  # node changes within one event; beyond that the flow loops at runtime


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where a session is, for logs, the live view and tests."""

    state: State
    node: str | None
    language: str
    attempts: int
    path: tuple[str, ...]
    outcome: str | None


class IvrSession:
    """One call's walk through a tenant's flow.

    ``loads`` is asked for the live queue snapshot when the call reaches a queue node, so
    that overflow rules see the load at that moment. ``recordings_media_root`` is where
    Asterisk finds this tenant's recordings (``<root>/<lang>/<name>``).
    """

    def __init__(
        self,
        tenant: Tenant,
        call: CallContext,
        *,
        session_id: str,
        language: Language,
        priority: int = 0,
        entry: str | None = None,
        loads: Callable[[], Mapping[str, QueueLoad]] = dict,
        recordings_media_root: str = "",
    ) -> None:
        self.tenant = tenant
        self.call = call
        self.session_id = session_id
        self.language = language
        self.priority = priority
        self.entry = entry or tenant.flow.entry
        self._loads = loads
        self._media_root = recordings_media_root
        self.state: State = "new"
        self.node: Node | None = None
        self.attempts = 0
        self.path: list[str] = []
        self.outcome: str | None = None
        self._counter = 0
        self._playback: str | None = None
        self._timer: str | None = None
        self._after: After = "next"
        self._pending: list[Effect] = []

    @classmethod
    def from_decision(
        cls,
        tenant: Tenant,
        call: CallContext,
        decision: EnterIvr,
        *,
        session_id: str,
        loads: Callable[[], Mapping[str, QueueLoad]] = dict,
        recordings_media_root: str = "",
    ) -> IvrSession:
        return cls(
            tenant,
            call,
            session_id=session_id,
            language=decision.language,
            priority=decision.priority,
            entry=decision.node,
            loads=loads,
            recordings_media_root=recordings_media_root,
        )

    # --- events ---------------------------------------------------------------------------

    def start(self, now: datetime) -> list[Effect]:
        """Begin at the entry node: set language and tenant on the channel, then enter."""
        if self.state != "new":
            return []
        out: list[Effect] = [
            SetLanguage(self.language.code),
            SetVariable("CC_TENANT", self.tenant.slug),
            SetVariable("CC_LANGUAGE", self.language.code),
        ]
        return out + self._enter(self.entry, now)

    def on_dtmf(self, digit: str, now: datetime) -> list[Effect]:
        node = self.node
        if node is None or self.state not in ("playing", "waiting"):
            return []
        if node.kind == "announcement":
            if digit == "0" and self.state == "playing" and node.receptionist_zero:
                return [self._stop(), *self._enter(self.tenant.flow.receptionist, now)]
            return []
        if node.kind not in ("menu", "language"):
            return []  # prompts before a hand-off are not interruptible
        out: list[Effect] = []
        if self.state == "playing":
            out.append(self._stop())  # barge-in
        self._timer = None
        return out + self._choose(node, digit, now)

    def on_playback_finished(self, playback_id: str, now: datetime) -> list[Effect]:
        if self.state != "playing" or playback_id != self._playback:
            return []
        self._playback = None
        return self._continue(now)

    def on_timeout(self, token: str, now: datetime) -> list[Effect]:
        if self.state != "waiting" or token != self._timer or self.node is None:
            return []
        self._timer = None
        return self._retry(self.node, now, timed_out=True)

    def on_hangup(self, now: datetime) -> list[Effect]:
        if self.state != "done":
            self.state = "done"
            self.outcome = "hangup"
        self._playback = self._timer = None
        return []

    def snapshot(self) -> Snapshot:
        return Snapshot(
            self.state,
            self.node.name if self.node else None,
            self.language.code,
            self.attempts,
            tuple(self.path),
            self.outcome,
        )

    # --- transitions ----------------------------------------------------------------------

    def _enter(self, name: str, now: datetime) -> list[Effect]:
        flow = self.tenant.flow
        for _ in range(MAX_HOPS):
            node = flow.node(name)
            self.node, self.attempts = node, 0
            self.path.append(name)
            if node.kind == "time":
                status = status_at(self.tenant, now)
                name = node.targets.get(status.kind, node.targets["closed"])
                continue
            if node.kind == "language" and node.skip_if_preselected and self.language.preselected:
                name = node.next or flow.receptionist
                continue
            if node.kind in ("menu", "language"):
                self.attempts = 1
                return self._play(node.prompts, "await_input", now)
            if node.kind == "announcement":
                extra = self._next_opening(now) if node.say_next_opening else []
                return self._play(node.prompts, "next", now, extra)
            self._pending = self._hand_off(node)
            return self._play(node.prompts, "terminal", now)
        return self._finish([Hangup("flow-loop")], "flow-loop")

    def _choose(self, node: Node, digit: str, now: datetime) -> list[Effect]:
        if node.kind == "menu" and digit in node.options:
            return self._enter(node.options[digit], now)
        if node.kind == "language" and digit in node.languages:
            return self._set_language(node.languages[digit]) + self._enter(
                node.next or self.tenant.flow.receptionist, now
            )
        if digit == "0" and node.receptionist_zero:
            return self._enter(self.tenant.flow.receptionist, now)
        return self._retry(node, now, timed_out=False)

    def _retry(self, node: Node, now: datetime, *, timed_out: bool) -> list[Effect]:
        """Replay the menu (after the invalid-input prompt) or give up to the fallback."""
        self.attempts += 1
        if self.attempts > node.retries + 1:
            if node.kind == "language":  # keep the current (default) language
                return self._enter(node.next or self.tenant.flow.receptionist, now)
            return self._enter(node.on_failure or self.tenant.flow.receptionist, now)
        prompts = node.prompts if timed_out else node.invalid_prompts + node.prompts
        return self._play(prompts, "await_input", now)

    def _continue(self, now: datetime) -> list[Effect]:
        node = self.node
        assert node is not None
        if self._after == "await_input":
            self._counter += 1
            self._timer = f"{self.session_id}-t{self._counter}"
            self.state = "waiting"
            return [StartTimer(self._timer, node.timeout)]
        if self._after == "next":
            if node.next is None:
                return self._finish([Hangup("announcement-end")], "hangup-after-announcement")
            return self._enter(node.next, now)
        pending, self._pending = self._pending, []
        return self._finish(pending, _outcome_of(pending))

    def _play(
        self, refs: tuple[str, ...], after: After, now: datetime, extra: list[str] | None = None
    ) -> list[Effect]:
        self._after = after
        media = tuple(media_uri(r, self.language.code, self._media_root) for r in refs)
        media += tuple(extra or ())
        if not media:
            return self._continue(now)
        self._counter += 1
        self._playback = f"{self.session_id}-p{self._counter}"
        self.state = "playing"
        return [Play(self._playback, media, self.language.code)]

    def _stop(self) -> Effect:
        playback, self._playback = self._playback or "", None
        return StopPlayback(playback)

    def _finish(self, effects: list[Effect], outcome: str) -> list[Effect]:
        self.state = "done"
        self.outcome = outcome
        self._playback = self._timer = None
        return effects

    def _set_language(self, code: str) -> list[Effect]:
        self.language = Language(code, "choice")
        return [SetLanguage(code), SetVariable("CC_LANGUAGE", code)]

    def _next_opening(self, now: datetime) -> list[str]:
        opening = next_opening(self.tenant, now)
        if opening is None:
            return []
        return next_opening_media(opening, now, self.tenant.zone, self.language.code)

    # --- hand-off -------------------------------------------------------------------------

    def variables(self) -> dict[str, str]:
        """Channel variables the receptionist console reads (tenant, language, IVR path …)."""
        return {
            "CC_TENANT": self.tenant.slug,
            "CC_LANGUAGE": self.language.code,
            "CC_IVR_PATH": ">".join(self.path),
            "CC_CRM_ID": self.call.crm_contact_id or "",
            "CC_VIP": "1" if is_vip(self.tenant, self.call) else "0",
            "CC_DID": self.call.did,
            "CC_CALLER": self.call.caller_e164 or "",
        }

    def _hand_off(self, node: Node) -> list[Effect]:
        lang = self.language.code
        variables = self.variables()
        mailbox = self.tenant.routing.voicemail_box
        if node.kind == "voicemail":
            return [SendToVoicemail(node.mailbox or mailbox, lang, variables)]
        if node.kind == "transfer":
            member = self.tenant.staff_member(node.staff or "")
            if member is None:  # the loader rejects this; be safe at runtime anyway
                return [SendToVoicemail(mailbox, lang, variables, "unknown-staff")]
            return [Transfer(member.number, member.id, variables)]
        if node.kind == "hangup":
            return [Hangup("flow")]
        if node.kind == "callback":
            rule = (
                self.tenant.routing.queue(node.queue)
                if node.queue
                else self.tenant.routing.queue_for(lang)
            )
            return [
                OfferCallback(rule.name if rule else "", self.call.caller_e164, lang, variables)
            ]
        return [self._queue_effect(node, variables)]

    def _queue_effect(self, node: Node, variables: dict[str, str]) -> Effect:
        decision = decide_queue(self.tenant, node.queue, self.call, self.language, self._loads())
        return queue_decision_effect(self.tenant, decision, variables, self.priority)


def queue_decision_effect(
    tenant: Tenant, decision: QueueDecision, variables: dict[str, str], priority: int
) -> Effect:
    """The hand-off effect for a queue decision (used by queue nodes and queue DIDs)."""
    lang = decision.language.code
    if isinstance(decision, EnterQueue):
        return ContinueToQueue(decision.queue, max(decision.priority, priority), variables)
    if isinstance(decision, Overflow):
        variables = {**variables, "CC_OVERFLOW": decision.reason}
        if decision.action == "queue" and decision.target_queue:
            return ContinueToQueue(
                decision.target_queue, max(decision.priority, priority), variables
            )
        caller = variables.get("CC_CALLER") or None
        if decision.action == "callback":
            return OfferCallback(decision.from_queue, caller, lang, variables, decision.reason)
        return SendToVoicemail(decision.mailbox, lang, variables, decision.reason)
    return SendToVoicemail(tenant.routing.voicemail_box, lang, variables, decision.reason)


def _outcome_of(effects: list[Effect]) -> str:
    kinds = {
        ContinueToQueue: "queue",
        SendToVoicemail: "voicemail",
        OfferCallback: "callback",
        Transfer: "transfer",
        Hangup: "hangup",
    }
    for effect in effects:
        for kind, label in kinds.items():
            if isinstance(effect, kind):
                return label
    return "done"
