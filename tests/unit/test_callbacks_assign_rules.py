"""Assigned and expiring callbacks, the pure parts: the direct ring's effects, what an
expired callback's end does, which interfaces may be rung, who counts as free."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callbacks import dispatch
from callbacks.assignment import safe_interface
from callbacks.dispatch import CallDirect, HangUp, Job, Publish
from callbacks.plugin import free_receptionists
from callcenter.state.agents import Member
from callcenter.state.live import LiveState

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
JOB = Job(5, 2, "acme", "+49301234567", "q-acme", "de", 0, T0, context={"assigned": "anna"})


def test_direct_ring_uses_the_placeholders_b_id_and_shows_the_customer() -> None:
    ring, queued = dispatch.place_direct(JOB, "PJSIP/anna", 20)
    assert ring == CallDirect(
        "cbq-5-2-b",
        "PJSIP/anna",
        "+49301234567",
        20,
        {"CC_CALLBACK_ID": "5", "CC_CALLBACK_LEG": "placeholder", "CC_TENANT": "acme"},
    )
    assert isinstance(queued, Publish) and queued.event == "callback.queued"
    assert (queued.payload["direct"], queued.payload["position"]) == ("PJSIP/anna", None)


@pytest.mark.parametrize(
    ("stage", "hangs_up"),
    [("queued", True), ("direct", True), (None, False)],
)
def test_expired_hangs_up_a_waiting_placeholder_only(stage: str | None, hangs_up: bool) -> None:
    effects = dispatch.expired(JOB, stage)
    assert (HangUp("cbq-5-2-b") in effects) is hangs_up
    last = effects[-1]
    assert isinstance(last, Publish) and last.event == "callback.expired"
    assert last.payload["outcome"] == "expired"


@pytest.mark.parametrize(
    ("interface", "ok"),
    [
        ("PJSIP/anna", True),
        ("Local/agent1@agents/n", True),
        ("PJSIP/anna&PJSIP/ben", False),  # Dial() would ring two
        ("PJSIP/anna,30", False),  # an option smuggled into Dial()
        ("Console/dsp", False),
        ("", False),
    ],
)
def test_only_plain_interfaces_are_rung(interface: str, ok: bool) -> None:
    assert (safe_interface(interface) == interface) is ok


def _member(name: str, queue: str, status: int, paused: bool = False) -> Member:
    return Member(queue, f"PJSIP/{name}", name, "", status, paused, "", False, 0, 0.0, 0, 0.0)


def test_free_means_free_in_every_queue_of_the_receptionist() -> None:
    state = LiveState()
    for m in (
        _member("anna", "q-a", 1),
        _member("anna", "q-b", 1),
        _member("ben", "q-a", 1),
        _member("ben", "q-b", 2),  # in a call: busy everywhere
        _member("cleo", "q-a", 1, paused=True),
    ):
        state.agents.upsert(m)
    assert free_receptionists(state) == {"anna": "PJSIP/anna"}
