"""queue_log parsing and comparison (stats.reconcile); billing CSV/XLSX (stats.billing)."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime, timedelta

import openpyxl

from callcenter.spreadsheets import safe_cell
from callcenter.state.records import CallRecord
from stats.billing import Billing, to_csv, to_xlsx
from stats.reconcile import compare, parse_queue_log

QUEUE_LOG = """\
1700000000|NONE|q-a|NONE|QUEUESTART|
1700000001|u1|q-a|NONE|ENTERQUEUE||+4930111|1
1700000003|u1|q-a|Local/a1@agents/n|RINGNOANSWER|2000
1700000004|u1|q-a|Anna|CONNECT|3|u1-agent|1
1700000044|u1|q-a|Anna|COMPLETEAGENT|3|40|1
1700000010|u2|q-a|NONE|ENTERQUEUE||+4930222|1
1700000014|u2|q-a|NONE|ABANDON|1|1|4
1700000020|u3|q-a|NONE|ENTERQUEUE||+4930333|1
1700000030|u3|q-a|NONE|EXITWITHTIMEOUT|1|1|10
1700000031|u3|q-b|NONE|ENTERQUEUE||+4930333|1
1700000037|u3|q-b|Bert|CONNECT|6|u3-agent|2
1700000050|u3|q-b|Bert|BLINDTRANSFER|+4930999|cc-transfer|6|13|1
garbage line
1700000060|u4|q-a|NONE|ENTERQUEUE||+4930444|1
"""
T = datetime.fromtimestamp(1700000000, UTC)


def rec(
    linkedid: str, outcome: str, stints: list[dict[str, object]], talk: float | None = None
) -> CallRecord:
    return CallRecord(
        linkedid=linkedid,
        entered_at=T,
        ended_at=T + timedelta(minutes=1),
        outcome=outcome,  # type: ignore[arg-type]
        queue=str(stints[-1]["queue"]),
        queued_at=T,
        answered_at=T if outcome == "answered" else None,
        talk_seconds=talk,
        agent="Anna" if outcome == "answered" else None,
        extra={"stints": stints},
    )


def test_parse_queue_log_legs() -> None:
    legs = parse_queue_log(QUEUE_LOG.splitlines())
    got = [(g.callid, g.queue, g.outcome, g.wait, g.talk) for g in legs]
    assert got == [
        ("u1", "q-a", "answered", 3.0, 40.0),
        ("u2", "q-a", "abandoned", 4.0, None),
        ("u3", "q-a", "timeout", 10.0, None),
        ("u3", "q-b", "answered", 6.0, 13.0),
        ("u4", "q-a", None, None, None),
    ]


def test_compare_lists_every_difference() -> None:
    records = [
        rec(
            "c1",
            "answered",
            [{"queue": "q-a", "uniqueid": "u1", "wait": 3.2, "answered": True}],
            40.3,
        ),
        rec(
            "c2", "answered", [{"queue": "q-a", "uniqueid": "u2", "wait": 4.1, "answered": True}], 9
        ),
        rec(
            "c3",
            "answered",
            [
                {
                    "queue": "q-a",
                    "uniqueid": "u3",
                    "wait": 10.2,
                    "status": "TIMEOUT",
                    "abandoned": True,
                },
                {"queue": "q-b", "uniqueid": "u3", "wait": 9.0, "answered": True},
            ],
            13.2,
        ),
        rec("c5", "abandoned", [{"queue": "q-a", "uniqueid": "u5", "wait": 2, "abandoned": True}]),
    ]
    result = compare(records, parse_queue_log(QUEUE_LOG.splitlines()))
    kinds = sorted((d.kind, d.callid) for d in result.differences)
    assert kinds == [("extra", "u5"), ("missing", "u4"), ("outcome", "u2"), ("wait", "u3")]
    assert result.matched == 4 and result.legs_pbx == 5 and result.legs_ours == 5
    assert result.per_queue["q-a"]["pbx"] == {
        "answered": 1,
        "abandoned": 1,
        "timeout": 1,
        "open": 1,
    }
    outcome = next(d for d in result.differences if d.kind == "outcome")
    assert outcome.describe() == "outcome: q-a u2 (call c2): ours answered, queue_log abandoned"
    wait = next(d for d in result.differences if d.kind == "wait")
    assert wait.describe() == "wait: q-b u3 (call c3): ours 9.0, queue_log 6.0"


def test_compare_agrees_when_rows_match() -> None:
    records = [
        rec(
            "c1",
            "answered",
            [{"queue": "q-a", "uniqueid": "u1", "wait": 3.4, "answered": True}],
            40.3,
        ),
        rec(
            "c2", "abandoned", [{"queue": "q-a", "uniqueid": "u2", "wait": 4.0, "abandoned": True}]
        ),
    ]
    # Refused at the door (joinempty): app_queue writes no queue_log line, not a difference.
    blocked = dataclasses.replace(
        rec("c6", "blocked", [{"queue": "q-a", "uniqueid": "u6", "wait": 0}]),
        queued_at=None,
        extra={"queue_status": "JOINEMPTY"},
    )
    records.append(blocked)
    legs = [leg for leg in parse_queue_log(QUEUE_LOG.splitlines()) if leg.callid in ("u1", "u2")]
    result = compare(records, legs)
    assert result.ok and result.matched == 2


def billing() -> Billing:
    return Billing(
        tenant_id=1,
        tenant_name="=HYPERLINK(evil)",
        month="2026-03",
        settings={"billable_after_seconds": 15, "wrapup_seconds": 0},
        days=[
            {
                "date": "2026-03-01",
                "offered": 3,
                "answered": 2,
                "billable": 1,
                "handled_seconds": 75,
                "handled_minutes": 1.25,
                "abandoned": 1,
                "voicemails": 0,
                "callbacks": 1,
                "notes": 2,
            },
            {
                "date": "2026-03-02",
                "offered": 1,
                "answered": 1,
                "billable": 1,
                "handled_seconds": 45,
                "handled_minutes": 0.75,
                "abandoned": 0,
                "voicemails": 1,
                "callbacks": 0,
                "notes": 0,
            },
        ],
        receptionists=[
            {
                "receptionist": "-Anna",
                "answered": 3,
                "billable": 2,
                "handled_seconds": 120,
                "handled_minutes": 2.0,
                "abandoned": 0,
                "voicemails": 0,
            }
        ],
        totals={
            "offered": 4,
            "answered": 3,
            "billable": 2,
            "handled_seconds": 120,
            "handled_minutes": 2.0,
            "abandoned": 1,
            "voicemails": 1,
            "callbacks": 1,
            "notes": 2,
        },
    )


def test_a_caller_rejected_by_the_receptionist_is_the_same_leg() -> None:
    """app_queue logs ABANDON when a receptionist hangs up a waiting caller; our row says
    diverted with cc_outcome rejected (issue #8): not a difference. A plain diverted row
    against an ABANDON still is one."""
    legs = [leg for leg in parse_queue_log(QUEUE_LOG.splitlines()) if leg.callid == "u2"]
    row = rec("c2", "diverted", [{"queue": "q-a", "uniqueid": "u2", "wait": 4.0}])
    rejected = dataclasses.replace(row, extra={**row.extra, "cc_outcome": "rejected"})
    assert compare([rejected], legs).ok
    assert [d.kind for d in compare([row], legs).differences] == ["outcome"]


def test_safe_cell_neutralises_formulas() -> None:
    assert [safe_cell(v) for v in ("=1+1", "+49", "-x", "@a", "Anna", "")] == [
        "'=1+1",
        "+49",  # a plain number is no formula (phone numbers stay usable)
        "'-x",
        "'@a",
        "Anna",
        "",
    ]


def test_csv_has_days_total_and_receptionists() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(billing()))))
    assert rows[0][:3] == ["Date", "Offered", "Answered"]
    assert rows[3] == ["total", "4", "3", "2", "120", "2.0", "1", "1", "1", "2"]
    assert rows[6][0] == "'-Anna"


def test_xlsx_reads_back_with_totals_and_formula_safe_text() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(to_xlsx(billing())))
    days = wb["Days"]
    assert days["A1"].value == "'=HYPERLINK(evil) 2026-03"  # text, not a formula
    assert days["A5"].value == "total" and days["C5"].value == "=SUM(C3:C4)"
    cached = openpyxl.load_workbook(io.BytesIO(to_xlsx(billing())), data_only=True)["Days"]
    assert cached["C5"].value == 3 and cached["E5"].value == 120
    assert wb["Receptionists"]["A2"].value == "'-Anna"


def test_pause_times_union_over_queues_split_billable() -> None:
    from stats.pauses import pause_times

    log = [
        "100|NONE|q-a|Rita|PAUSE|break",
        "100|NONE|q-b|Rita|PAUSE|break",
        "130|NONE|q-a|Rita|UNPAUSE|",
        "160|NONE|q-b|Rita|UNPAUSE|",  # paused in q-b until 160: 60 s of break
        "200|NONE|q-a|Rita|PAUSE|wrapup",
        "245|NONE|q-a|Rita|UNPAUSE|",
        "300|NONE|q-a|Sam|PAUSE|",  # still paused at the end of the period
        "50|u1|q-a|Rita|ENTERQUEUE||+4930|1",
    ]
    got = pause_times(log, 0, 400, frozenset({"wrapup"}))
    assert got["Rita"].as_dict() == {
        "billable_seconds": 45.0,
        "non_billable_seconds": 60.0,
        "by_reason": {"break": 60.0, "wrapup": 45.0},
    }
    assert got["Sam"].non_billable == 100.0 and got["Sam"].by_reason == {"pause": 100.0}
    clipped = pause_times(log, 120, 150, frozenset())
    assert clipped["Rita"].non_billable == 30.0 and "Sam" not in clipped
