"""A tenant's ``[callbacks]`` settings as the dialler uses them: retries and dialling hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callbacks.retry import Final, Retry, after_attempt
from callbacks.settings import dialling_tenant, retry_policy, window_of
from ivr.tenancy import CallbackSettings, Interval
from ivr.testing import hm, make_tenant, week

# Monday 2026-11-30 is a working day in Bavaria; Berlin is UTC+1 in winter.
MON_0930 = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)


def test_retry_spacing_and_max_attempts_come_from_the_tenant() -> None:
    settings = CallbackSettings(max_attempts=2, retry_after={"busy": 60.0})
    policy = retry_policy(settings)
    assert policy.max_attempts == 2
    assert policy.rules["busy"].delay_s == 60.0
    assert policy.rules["no_answer"].delay_s == 900.0  # default where none is given
    first = after_attempt(policy, "busy", {"busy": 1}, MON_0930, None)
    assert isinstance(first, Retry)
    assert (first.due_at - MON_0930).total_seconds() == 60
    # The second dial is the last one: max_attempts caps the per-outcome count too.
    assert after_attempt(policy, "busy", {"busy": 2}, MON_0930, None) == Final("busy")


def test_one_attempt_means_no_retry() -> None:
    policy = retry_policy(CallbackSettings(max_attempts=1))
    assert after_attempt(policy, "no_answer", {"no_answer": 1}, MON_0930, None) == Final(
        "no_answer"
    )


def test_dialling_hours_cut_the_opening_hours() -> None:
    tenant = make_tenant(callbacks=CallbackSettings(hours=week(mon=["07:00-09:00", "11:30-14:00"])))
    hours = dialling_tenant(tenant).hours
    assert hours[0] == (
        Interval(hm("08:00"), hm("09:00")),
        Interval(hm("11:30"), hm("12:00")),
        Interval(hm("13:00"), hm("14:00")),
    )
    assert hours[1] == ()  # no callback hours on Tuesday: none dialled then


def test_without_own_hours_the_opening_hours_apply() -> None:
    tenant = make_tenant()
    assert dialling_tenant(tenant) is tenant


@pytest.mark.parametrize(
    ("margin_s", "at_utc", "is_open"),
    [
        (900.0, datetime(2026, 11, 30, 10, 50, tzinfo=UTC), False),  # 11:50, closes 12:00
        (300.0, datetime(2026, 11, 30, 10, 50, tzinfo=UTC), True),
        (0.0, datetime(2026, 11, 30, 10, 59, tzinfo=UTC), True),
    ],
)
def test_closing_margin_is_the_tenants(margin_s: float, at_utc: datetime, is_open: bool) -> None:
    tenant = make_tenant(callbacks=CallbackSettings(closing_margin=margin_s))
    assert window_of(tenant, at_utc).open is is_open


def test_closed_by_callback_hours_waits_for_their_next_start() -> None:
    tenant = make_tenant(callbacks=CallbackSettings(hours=week(mon=["10:00-11:00"])))
    window = window_of(tenant, MON_0930)  # 09:30 local: open, but not for callbacks yet
    assert not window.open
    assert window.next_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 10:00 local
