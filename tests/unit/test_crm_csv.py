"""CSV parsing with column mapping and per-line errors (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm import csv_import
from crm.csv_import import MappingError

FIXTURE = Path(__file__).parent.parent / "fixtures" / "crm" / "messy_contacts.csv"


def test_messy_fixture_reports_each_bad_row_with_line_and_reason() -> None:
    result = csv_import.parse(FIXTURE.read_text(encoding="utf-8"))
    assert result.delimiter == ";"
    errors = {e.line: (e.field, e.reason) for e in result.errors}
    # line 6 is empty (skipped silently); the multi-line note spans lines 4-5
    assert errors[7][0] == "Handy" and "characters" in errors[7][1]
    assert errors[9][0] == "E-Mail"
    assert errors[10][0] == "Name"
    assert errors[13][0] == "Handy" and "impossible length" in errors[13][1]
    assert errors[14][0] == "Sprache"
    assert len(errors) == 5
    lines = [line for line, _ in result.rows]
    assert lines == [2, 3, 4, 8, 11, 12, 15]
    carla = dict(result.rows)[4]
    assert carla.notes == "Mehrzeilige\nNotiz mit Umbruch"
    assert [n.e164 for n in carla.numbers] == ["+491717654321", "+49301234568"]
    anna = dict(result.rows)[2]
    assert anna.vip and anna.tags == ("Stammkunde", "Wichtig")
    assert anna.organisation == "Müller GmbH"


def test_explicit_mapping_and_comma_delimiter() -> None:
    text = "Full,Cell numbers\nAnna,0171 1234567|030 1234567\n"
    result = csv_import.parse(text, {"display_name": "Full", "mobile": "Cell numbers"})
    assert result.errors == []
    ((_, c),) = result.rows
    assert [n.e164 for n in c.numbers] == ["+491711234567", "+49301234567"]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"display_name": "Nope"}, "not in the header"),
        ({"shoe_size": "Name"}, "unknown target field"),
        ({"email": "Name"}, "no name column"),
    ],
)
def test_bad_mapping_is_refused(mapping: dict[str, str], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        csv_import.parse("Name\nAnna\n", mapping)


def test_row_with_too_many_columns_is_reported() -> None:
    result = csv_import.parse("Name,Phone\nA,030 1234567,extra\nB,030 7654321\n")
    assert [(e.line, e.reason) for e in result.errors] == [(2, "3 columns but the header has 2")]
    assert [c.display_name for _, c in result.rows] == ["B"]
