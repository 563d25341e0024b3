"""queue_log parsing and reconciliation rules (pure; the PBX path is in
tests/integration/test_records_pbx.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from callcenter.records.queue_log import QueueLogError, parse_line, read_from
from callcenter.records.reconcile import completion, record_from, summarise

END = "1700000060|in-1|NONE|NONE|CC_END|lk-1|acme|+4930111|+4917011|"
LINES = [
    "1700000000|in-1|NONE|NONE|CC_START|lk-1|+4930111|+4917011",
    "1700000010|in-1|q-acme|NONE|ENTERQUEUE||+4917011|1",
    "1700000014|in-1|q-acme|anna|CONNECT|4|agent-1|3",
    "1700000059|in-1|q-acme|anna|COMPLETECALLER|4|45|1",
]


def test_parse_keeps_extra_fields_in_data5() -> None:
    line = parse_line("1700000000|c|q|a|EV|1|2|3|4|5|6|7")
    assert line.data == ("1", "2", "3", "4", "5|6|7")
    assert parse_line("1700000000|c|q|a|EV").data == ("", "", "", "", "")
    with pytest.raises(QueueLogError, match="not a queue_log line"):
        parse_line("garbage|line")


def test_answered_call_from_its_lines() -> None:
    call = summarise(parse_line(END), [parse_line(x) for x in LINES])
    record = record_from(call, "DE")
    assert record.outcome == "answered"
    assert (record.agent, record.queue, record.wait_seconds, record.talk_seconds) == (
        "anna",
        "q-acme",
        4.0,
        45.0,
    )
    assert (record.tenant, record.did, record.caller) == ("acme", "+4930111", "+4917011")
    assert record.entered_at.timestamp() == 1700000000


@pytest.mark.parametrize(
    ("last", "outcome", "wait"),
    [
        ("1700000020|in-1|q-acme|NONE|ABANDON|1|1|10", "abandoned", 10.0),
        ("1700000020|in-1|q-acme|NONE|EXITWITHTIMEOUT|1|1|10", "timeout", 10.0),
        ("1700000020|in-1|q-acme|NONE|EXITEMPTY|1|1|10", "blocked", 10.0),
        ("1700000020|in-1|q-acme|NONE|EXITWITHKEY|5|1|1|10", "diverted", 10.0),
    ],
)
def test_unanswered_outcomes(last: str, outcome: str, wait: float) -> None:
    call = summarise(parse_line(END), [parse_line(LINES[1]), parse_line(last)])
    assert (call.outcome(), call.wait_seconds) == (outcome, wait)


def test_voicemail_and_ivr_only_calls() -> None:
    end = parse_line(END + "voicemail")
    assert summarise(end, []).outcome() == "diverted"
    assert summarise(parse_line(END), [parse_line(LINES[0])]).outcome() == "ivr"


def test_completion_fills_only_missing_fields() -> None:
    call = summarise(parse_line(END), [parse_line(x) for x in LINES])
    row: dict[str, Any] = {
        "outcome": "answered",
        "agent": "Anna (console)",
        "wait_seconds": None,
        "extra": {},
    }
    updates = completion(row, call)
    assert "agent" not in updates
    assert updates["wait_seconds"] == 4.0 and updates["talk_seconds"] == 45.0
    assert "wait_seconds" in updates["extra"]["reconciled"]
    full = {name: 1 for name in ("tenant", "queue", "agent", "queued_at", "answered_at")}
    assert (
        completion({**full, "wait_seconds": 4, "talk_seconds": 45, "outcome": "answered"}, call)
        == {}
    )


def test_tail_keeps_a_half_written_line_for_later(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    path.write_text(LINES[0] + "\n" + LINES[1][:10])
    first = read_from(path, 0)
    assert [x.event for x in first.lines] == ["CC_START"]
    path.write_text(LINES[0] + "\n" + LINES[1] + "\n")
    second = read_from(path, first.offset)
    assert [x.event for x in second.lines] == ["ENTERQUEUE"]
    path.write_text(LINES[2] + "\n")  # rotated: shorter than the offset, read from 0
    assert [x.event for x in read_from(path, second.offset).lines] == ["CONNECT"]
    assert read_from(tmp_path / "missing", 7).lines == []
