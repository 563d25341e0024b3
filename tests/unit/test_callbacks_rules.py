"""Pure callback rules, by tables: the virtual place, retries, the dial window, channel ids,
and the dispatcher's effects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callbacks import dispatch
from callbacks.dispatch import (
    Bridge,
    ChannelRef,
    CreatePlaceholder,
    DialCustomer,
    HangUp,
    Job,
    Publish,
    Ring,
    parse_channel_id,
)
from callbacks.ordering import (
    Place,
    callbacks_ahead,
    queue_position,
    service_order,
    virtual_positions,
)
from callbacks.retry import (
    Final,
    Retry,
    RetryPolicy,
    RetryRule,
    after_attempt,
    classify_hangup,
)
from callbacks.window import dial_window

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def live(key: str, at: float, prio: int = 0) -> Place:
    return Place(key, prio, at)


def cb(key: str, at: float, prio: int = 0) -> Place:
    return Place(key, prio, at, callback=True)


@pytest.mark.parametrize(
    ("new", "waiting", "position"),
    [
        (cb("b", 20), [], 1),
        (cb("b", 20), [live("a", 10)], 2),  # never ahead of who was there first
        (cb("b", 20), [live("a", 10), live("c", 30)], 2),  # never behind who came later
        (cb("b", 5), [live("a", 10), live("c", 30)], 1),
        (cb("b", 40), [live("a", 10), live("c", 30)], 3),
        (cb("b", 20), [live("v", 30, prio=5), live("a", 10)], 3),  # a VIP stays ahead
        (cb("b", 20, prio=5), [live("a", 10), live("c", 30)], 1),  # a VIP callback too
        (cb("b", 20), [cb("x", 15), live("c", 30)], 2),  # other callbacks by arrival
        (cb("b", 20), [cb("b", 20), live("c", 30)], 1),  # itself does not count
    ],
)
def test_queue_position(new: Place, waiting: list[Place], position: int) -> None:
    assert queue_position(new, waiting) == position


def test_interleaving_by_arrival_and_priority() -> None:
    places = [live("l1", 10), cb("c1", 5), live("l2", 30), cb("c2", 20), live("vip", 40, 9)]
    assert [p.key for p in service_order(places)] == ["vip", "c1", "l1", "c2", "l2"]
    assert virtual_positions([cb("c1", 5), cb("c2", 20)], [live("l1", 10), live("l2", 30)]) == {
        "c1": 1,
        "c2": 3,
    }
    assert callbacks_ahead(live("l2", 30), [cb("c1", 5), cb("c2", 20), cb("c3", 35)]) == 2


POLICY = RetryPolicy(
    {
        "busy": RetryRule(3, 300),
        "no_answer": RetryRule(2, 600),
        "failed": RetryRule(1, 0),
        "machine": RetryRule(2, 1800),
        "interrupted": RetryRule(3, 0),
    },
    max_attempts=4,
)


@pytest.mark.parametrize(
    ("outcome", "seen", "expires", "expected"),
    [
        ("answered", {"answered": 1}, None, Final("completed")),
        ("busy", {"busy": 1}, None, Retry(T0 + timedelta(seconds=300))),
        ("busy", {"busy": 3}, None, Final("busy")),
        ("no_answer", {"busy": 1, "no_answer": 1}, None, Retry(T0 + timedelta(seconds=600))),
        ("no_answer", {"no_answer": 2}, None, Final("no_answer")),
        ("failed", {"failed": 1}, None, Final("failed")),
        ("machine", {"machine": 1}, None, Retry(T0 + timedelta(seconds=1800))),
        ("machine", {"machine": 2}, None, Final("no_answer")),
        ("busy", {"busy": 2, "no_answer": 2}, None, Final("busy")),  # max_attempts in all
        ("busy", {"busy": 1}, T0 + timedelta(seconds=60), Final("expired")),
        ("interrupted", {"interrupted": 1}, None, Retry(T0)),
    ],
)
def test_after_attempt(
    outcome: str, seen: dict[str, int], expires: datetime | None, expected: object
) -> None:
    assert after_attempt(POLICY, outcome, seen, T0, expires) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cause", "answered", "outcome"),
    [(16, True, "answered"), (17, False, "busy"), (21, False, "busy"), (19, False, "no_answer"),
     (16, False, "no_answer"), (1, False, "failed"), (34, False, "failed"), (0, False, "failed")],
)  # fmt: skip
def test_classify_hangup(cause: int, answered: bool, outcome: str) -> None:
    assert classify_hangup(cause, answered) == outcome


class Hours:
    """Open 08:00–17:00 UTC every day."""

    def is_open(self, at: datetime) -> bool:
        return 8 <= at.astimezone(UTC).hour < 17

    def next_opening(self, at: datetime) -> datetime | None:
        if self.is_open(at):
            return at
        day = at.date() if at.hour < 8 else at.date() + timedelta(days=1)
        return datetime(day.year, day.month, day.day, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "is_open", "next_at"),
    [
        (datetime(2026, 12, 1, 9, tzinfo=UTC), True, None),
        (datetime(2026, 12, 1, 16, 50, tzinfo=UTC), False, datetime(2026, 12, 2, 8, tzinfo=UTC)),
        (datetime(2026, 12, 1, 18, tzinfo=UTC), False, datetime(2026, 12, 2, 8, tzinfo=UTC)),
        (datetime(2026, 12, 1, 6, tzinfo=UTC), False, datetime(2026, 12, 1, 8, tzinfo=UTC)),
    ],
)
def test_dial_window(now: datetime, is_open: bool, next_at: datetime | None) -> None:
    window = dial_window(Hours(), now, closing_margin_s=900)
    assert (window.open, window.next_at) == (is_open, next_at)


@pytest.mark.parametrize(
    ("channel_id", "ref"),
    [
        ("cbq-12-3-a", ChannelRef("slot", 12, 3)),
        ("cbq-12-3-b", ChannelRef("slot-b", 12, 3)),
        ("cb-7-a2-c", ChannelRef("customer", 7, 2)),
        ("cbq-12-3", None),
        ("cb-7-a2", None),
        ("1700000000.12", None),
    ],
)
def test_channel_ids(channel_id: str, ref: ChannelRef | None) -> None:
    assert parse_channel_id(channel_id) == ref


def test_ids_are_never_a_prefix_of_each_other() -> None:
    """Asterisk refuses a new channel id that is a prefix of a live one."""
    ids = [dispatch.customer_channel_id(j, a) for j in (1, 12, 123) for a in (1, 12)]
    ids += [x for j in (1, 12) for t in (1, 10) for x in dispatch.slot_ids(j, t)]
    assert not [(a, b) for a in ids for b in ids if a != b and b.startswith(a)]


JOB = Job(5, 2, "acme", "+49301234567", "q-acme-de", "de", 0, T0, caller_id="+49309999")


def test_effects_of_a_callback_life() -> None:
    placed = dispatch.place(JOB, [live("a", T0.timestamp() - 10), live("c", T0.timestamp() + 9)])
    assert isinstance(placed[0], CreatePlaceholder)
    assert (placed[0].slot_id, placed[0].other_id, placed[0].position) == (
        "cbq-5-2-a",
        "cbq-5-2-b",
        2,
    )
    assert placed[0].variables["CC_CB_POSITION"] == "2"
    assert isinstance(placed[1], Publish) and placed[1].event == "callback.queued"
    offered = dispatch.offer(JOB, 1, "anna", 30)
    assert [type(e) for e in offered] == [Publish, Ring, DialCustomer]
    assert isinstance(offered[0], Publish) and offered[0].event == "callback.offered"
    dial = offered[2]
    assert isinstance(dial, DialCustomer)
    assert (dial.channel_id, dial.number, dial.caller_id) == (
        "cb-5-a1-c",
        "+49301234567",
        "+49309999",
    )
    assert dispatch.connect(JOB, 1)[0] == Bridge("cbb-5-a1", ("cbq-5-2-b", "cb-5-a1-c"))
    ended = dispatch.end(JOB, 1, "busy", None, T0)
    assert ended[0] == HangUp("cbq-5-2-b")
    assert isinstance(ended[1], Publish) and ended[1].event == "callback.retry"
    final = dispatch.end(JOB, 3, "busy", "busy", None)[1]
    assert isinstance(final, Publish) and final.payload["outcome"] == "busy"


def test_customer_first_dials_the_customer_with_no_receptionist_ringing() -> None:
    from callbacks import dispatch
    from callbacks.dispatch import DialCustomer, Job, Publish, Ring

    job = Job(
        7, 3, "acme", "+493012345678", "q-acme-de", "de", 0, datetime(2026, 12, 1, tzinfo=UTC)
    )
    effects = dispatch.dial_first(job, 2, 30)
    assert [type(e) for e in effects] == [Publish, DialCustomer]
    assert not any(isinstance(e, Ring) for e in effects)
    first, dial = effects
    assert isinstance(first, Publish) and first.event == "callback.dialling"
    assert isinstance(dial, DialCustomer) and dial.channel_id == "cb-7-a2-c"
