"""The IVR state machine driven by tables of events, checking the effects of each step."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from callcenter.pbx.ari.playback import Play, StopPlayback
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
from ivr.engine import IvrSession
from ivr.flow import Flow, Node
from ivr.routing import CallContext, ClosedAnnouncement, EnterIvr, Language, QueueLoad, route
from ivr.testing import make_tenant, simple_flow

OPEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday 10:00 Berlin
CLOSED = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # Friday 19:00 Berlin
STAFFED = {"q-acme-de": QueueLoad(2, 1, 0, 0.0), "q-acme-en": QueueLoad(2, 1, 0, 0.0)}
MAIN_MENU = "play:sound:/rec/acme/de/main@de"


def describe(effect: Effect) -> str:
    match effect:
        case Play(media=media, language=lang):
            return f"play:{','.join(media)}@{lang}"
        case StopPlayback():
            return "stop"
        case StartTimer(seconds=seconds):
            return f"timer:{seconds:g}"
        case SetVariable(name=name, value=value):
            return f"var:{name}={value}"
        case SetLanguage(language=lang):
            return f"lang:{lang}"
        case ContinueToQueue(queue=queue, priority=priority):
            return f"queue:{queue}/{priority}"
        case SendToVoicemail(mailbox=box, reason=reason):
            return f"voicemail:{box}/{reason}"
        case OfferCallback(queue=queue, number=number, reason=reason):
            return f"callback:{queue}/{number}/{reason}"
        case Transfer(number=number):
            return f"transfer:{number}"
        case Hangup(reason=reason):
            return f"hangup:{reason}"
    raise AssertionError(effect)


class Driver:
    """Feeds events to a session; "finished"/"timeout" use the last playback/timer id."""

    def __init__(self, session: IvrSession) -> None:
        self.session = session
        self.playback = ""
        self.timer = ""

    def step(self, event: str, now: datetime) -> list[str]:
        kind, _, arg = event.partition(":")
        s = self.session
        if kind == "start":
            effects = s.start(now)
        elif kind == "dtmf":
            effects = s.on_dtmf(arg, now)
        elif kind == "finished":
            effects = s.on_playback_finished(arg or self.playback, now)
        elif kind == "timeout":
            effects = s.on_timeout(arg or self.timer, now)
        elif kind == "hangup":
            effects = s.on_hangup(now)
        else:
            raise AssertionError(event)
        for effect in effects:
            if isinstance(effect, Play):
                self.playback = effect.playback_id
            if isinstance(effect, StartTimer):
                self.timer = effect.token
        return [describe(e) for e in effects]


GERMAN = Language("de", "default")


def session(
    caller: str | None = "+4930123456",
    language: Language = GERMAN,
    loads: dict[str, QueueLoad] | None = None,
    **tenant_changes: object,
) -> IvrSession:
    tenant = make_tenant(**tenant_changes)
    call = CallContext("+49891111110", caller, OPEN)
    return IvrSession(
        tenant,
        call,
        session_id="c1",
        language=language,
        priority=tenant.routing.vip_priority if tenant.is_vip(caller) else 0,
        loads=lambda: STAFFED if loads is None else loads,
        recordings_media_root="/rec/acme",
    )


START = ["lang:de", "var:CC_TENANT=acme", "var:CC_LANGUAGE=de", MAIN_MENU]
INVALID_THEN_MENU = "play:sound:pbx-invalid,sound:/rec/acme/de/main@de"

SCENARIOS: list[tuple[str, dict[str, object], list[tuple[str, list[str]]]]] = [
    (
        "menu choice after the prompt",
        {},
        [
            ("start", START),
            ("finished", ["timer:5"]),
            ("dtmf:1", ["queue:q-acme-de/0"]),
        ],
    ),
    (
        "barge-in stops the prompt",
        {},
        [
            ("start", START),
            ("dtmf:2", ["stop", "play:sound:vm-intro@de"]),
            ("finished", ["voicemail:acme/caller"]),
        ],
    ),
    (
        "stale playback end and stale timer are ignored",
        {},
        [
            ("start", START),
            ("dtmf:9", ["stop", "play:sound:/rec/acme/de/hours@de"]),
            ("finished:c1-p1", []),
            ("timeout:c1-t0", []),
            ("finished", [MAIN_MENU]),
        ],
    ),
    (
        "invalid input: retry prompts, then receptionist",
        {},
        [
            ("start", START),
            ("finished", ["timer:5"]),
            ("dtmf:7", [INVALID_THEN_MENU]),
            ("dtmf:8", ["stop", INVALID_THEN_MENU]),
            ("finished", ["timer:5"]),
            ("dtmf:#", [INVALID_THEN_MENU]),
            ("finished", ["timer:5"]),
            ("dtmf:*", ["queue:q-acme-de/0"]),
        ],
    ),
    (
        "timeouts: replay without the invalid prompt, then receptionist",
        {},
        [
            ("start", START),
            ("finished", ["timer:5"]),
            ("timeout", [MAIN_MENU]),
            ("finished", ["timer:5"]),
            ("timeout", [MAIN_MENU]),
            ("finished", ["timer:5"]),
            ("timeout", [MAIN_MENU]),
            ("finished", ["timer:5"]),
            ("timeout", ["queue:q-acme-de/0"]),
            ("timeout", []),
        ],
    ),
    (
        "0 reaches the receptionist from a menu",
        {},
        [
            ("start", START),
            ("dtmf:0", ["stop", "queue:q-acme-de/0"]),
        ],
    ),
    (
        "transfer to staff",
        {},
        [
            ("start", START),
            ("finished", ["timer:5"]),
            ("dtmf:3", ["transfer:+4915112345678"]),
        ],
    ),
    (
        "announcement returns to the menu, 0 interrupts it",
        {},
        [
            ("start", START),
            ("finished", ["timer:5"]),
            ("dtmf:9", ["play:sound:/rec/acme/de/hours@de"]),
            ("dtmf:5", []),
            ("finished", [MAIN_MENU]),
            ("dtmf:9", ["stop", "play:sound:/rec/acme/de/hours@de"]),
            ("dtmf:0", ["stop", "queue:q-acme-de/0"]),
        ],
    ),
    (
        "events after the hand-off are ignored",
        {},
        [
            ("start", START),
            ("dtmf:1", ["stop", "queue:q-acme-de/0"]),
            ("dtmf:1", []),
            ("finished", []),
            ("hangup", []),
        ],
    ),
    (
        "hang-up mid-menu ends the session",
        {},
        [
            ("start", START),
            ("hangup", []),
            ("dtmf:1", []),
            ("timeout", []),
        ],
    ),
    (
        "VIP keeps queue priority",
        {"caller": "+491701234567"},
        [
            ("start", START),
            ("dtmf:1", ["stop", "queue:q-acme-de/10"]),
        ],
    ),
    (
        "no agent logged in: overflow to voicemail",
        {"loads": {}},
        [
            ("start", START),
            ("dtmf:1", ["stop", "voicemail:acme/no_agents"]),
        ],
    ),
    (
        "too many callers: overflow queue, VIP priority kept",
        {"caller": "+491701234567", "loads": {"q-acme-de": QueueLoad(3, 0, 9, 10.0)}},
        [
            ("start", START),
            ("dtmf:1", ["stop", "queue:q-pool-de/10"]),
        ],
    ),
    (
        "long wait: callback offer",
        {"loads": {"q-acme-de": QueueLoad(3, 0, 2, 200.0)}},
        [
            ("start", START),
            ("dtmf:1", ["stop", "callback:q-acme-de/+4930123456/wait_over:180"]),
        ],
    ),
]


@pytest.mark.parametrize(("label", "options", "steps"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_scenarios(
    label: str, options: dict[str, object], steps: list[tuple[str, list[str]]]
) -> None:
    driver = Driver(session(**options))  # type: ignore[arg-type]
    for i, (event, expected) in enumerate(steps):
        assert driver.step(event, OPEN) == expected, f"{label}: step {i} ({event})"


def test_receptionist_zero_disabled_makes_0_invalid() -> None:
    flow = simple_flow()
    main = dataclasses.replace(flow.nodes["main"], receptionist_zero=False)
    driver = Driver(session(flow=dataclasses.replace(flow, nodes={**flow.nodes, "main": main})))
    driver.step("start", OPEN)
    assert driver.step("dtmf:0", OPEN) == ["stop", INVALID_THEN_MENU]


def language_flow() -> Flow:
    base = simple_flow()
    nodes = {
        **base.nodes,
        "welcome": Node(
            "welcome",
            "language",
            prompts=("rec:lang",),
            languages={"1": "de", "2": "en"},
            next="check",
            retries=1,
        ),
        "check": Node("check", "time", targets={"open": "main", "closed": "closed"}),
    }
    return Flow(nodes, "welcome", "reception", "closed")


def test_language_choice_switches_prompts_and_queue() -> None:
    driver = Driver(session(flow=language_flow()))
    assert driver.step("start", OPEN)[-1] == "play:sound:/rec/acme/de/lang@de"
    assert driver.step("dtmf:2", OPEN) == [
        "stop",
        "lang:en",
        "var:CC_LANGUAGE=en",
        "play:sound:/rec/acme/en/main@en",
    ]
    assert driver.step("dtmf:1", OPEN) == ["stop", "queue:q-acme-en/0"]
    s = driver.session
    assert s.snapshot().path == ("welcome", "check", "main", "reception")


def test_language_preselected_skips_the_choice() -> None:
    driver = Driver(session(flow=language_flow(), language=Language("en", "number")))
    assert driver.step("start", OPEN) == [
        "lang:en",
        "var:CC_TENANT=acme",
        "var:CC_LANGUAGE=en",
        "play:sound:/rec/acme/en/main@en",
    ]


def test_language_choice_failing_keeps_default_language() -> None:
    driver = Driver(session(flow=language_flow()))
    driver.step("start", OPEN)
    assert driver.step("dtmf:7", OPEN) == [
        "stop",
        "play:sound:pbx-invalid,sound:/rec/acme/de/lang@de",
    ]
    assert driver.step("dtmf:7", OPEN) == ["stop", MAIN_MENU]


def test_time_node_closed_announces_next_opening_then_voicemail() -> None:
    driver = Driver(session(flow=language_flow()))
    driver.step("start", CLOSED)
    # Friday 19:00 → Monday 08:00 (Berlin): weekday 1 = Monday, "um 8 Uhr".
    assert driver.step("dtmf:1", CLOSED) == [
        "stop",
        "lang:de",
        "var:CC_LANGUAGE=de",
        "play:sound:/rec/acme/de/closed,sound:digits/day-1,sound:digits/at,number:8,"
        "sound:digits/oclock@de",
    ]
    assert driver.step("finished", CLOSED) == ["play:sound:vm-intro@de"]
    assert driver.step("finished", CLOSED) == ["voicemail:acme/caller"]
    assert driver.session.snapshot().outcome == "voicemail"


def test_closed_route_runs_the_closed_node_in_english() -> None:
    tenant = make_tenant()
    call = CallContext("+49891111110", "+442079460018", CLOSED)
    decision = route(tenant, call, STAFFED)
    assert isinstance(decision, ClosedAnnouncement)
    s = IvrSession(
        tenant,
        call,
        session_id="c9",
        language=decision.language,
        entry=decision.node,
        recordings_media_root="/rec/acme",
    )
    effects = [describe(e) for e in s.start(CLOSED)]
    assert effects[-1] == (
        "play:sound:/rec/acme/en/closed,sound:digits/day-1,sound:digits/at,"
        "number:8,sound:digits/oclock,sound:digits/a-m@en"
    )


def test_emergency_closed_announcement_has_no_time() -> None:
    tenant = make_tenant(emergency_closed=True)
    call = CallContext("+49891111110", None, OPEN)
    s = IvrSession(
        tenant,
        call,
        session_id="c2",
        language=Language("de", "default"),
        entry="closed",
        recordings_media_root="/rec/acme",
    )
    assert [describe(e) for e in s.start(OPEN)][-1] == "play:sound:/rec/acme/de/closed@de"


def test_hand_off_variables() -> None:
    driver = Driver(session(flow=language_flow(), caller="+491701234567"))
    driver.step("start", OPEN)
    driver.step("dtmf:1", OPEN)
    effects = driver.session.on_dtmf("1", OPEN)
    assert effects == [
        StopPlayback("c1-p2"),
        ContinueToQueue(
            "q-acme-de",
            10,
            {
                "CC_TENANT": "acme",
                "CC_LANGUAGE": "de",
                "CC_IVR_PATH": "welcome>check>main>reception",
                "CC_CRM_ID": "",
                "CC_VIP": "1",
                "CC_DID": "+49891111110",
                "CC_CALLER": "+491701234567",
            },
        ),
    ]


def test_runtime_loop_guard() -> None:
    nodes = {
        "a": Node("a", "time", targets={"open": "b", "closed": "q"}),
        "b": Node("b", "time", targets={"open": "a", "closed": "q"}),
        "q": Node("q", "queue"),
    }
    driver = Driver(session(flow=Flow(nodes, "a", "q", "q")))
    assert driver.step("start", OPEN)[-1] == "hangup:flow-loop"


def test_anonymous_caller_callback_offer_has_no_number() -> None:
    flow = simple_flow()
    nodes = {**flow.nodes, "cb": Node("cb", "callback", prompts=("vm-tocallback",))}
    nodes["main"] = dataclasses.replace(nodes["main"], options={"1": "cb"})
    driver = Driver(session(caller=None, flow=dataclasses.replace(flow, nodes=nodes)))
    driver.step("start", OPEN)
    assert driver.step("dtmf:1", OPEN) == ["stop", "play:sound:vm-tocallback@de"]
    assert driver.step("finished", OPEN) == ["callback:q-acme-de/None/caller"]


def test_from_decision_uses_entry_language_and_priority() -> None:
    tenant = make_tenant()
    call = CallContext("+49891111112", "+491701234567", OPEN)
    decision = route(tenant, call, STAFFED)
    assert isinstance(decision, EnterIvr)
    s = IvrSession.from_decision(tenant, call, decision, session_id="c3")
    assert [describe(e) for e in s.start(OPEN)][:1] == ["lang:en"]
    assert s.priority == 10


def test_crm_record_and_flag_reach_the_console_variables() -> None:
    tenant = make_tenant()
    call = CallContext("+49891111110", "+4930999999", OPEN, crm_contact_id="c-17", crm_vip=True)
    s = IvrSession(
        tenant, call, session_id="c5", language=GERMAN, priority=0, loads=lambda: STAFFED
    )
    s.start(OPEN)
    (_stop, handoff) = s.on_dtmf("1", OPEN)
    assert isinstance(handoff, ContinueToQueue)
    assert (handoff.priority, handoff.variables["CC_CRM_ID"], handoff.variables["CC_VIP"]) == (
        10,
        "c-17",
        "1",
    )
