"""Contact validation, the merge rule and CSV export (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm import csv_import
from crm.contact import ValidationError, contact_from_mapping, contact_to_mapping
from crm.duplicates import merged
from crm.export import to_csv


def test_display_name_falls_back_to_names_then_organisation() -> None:
    assert contact_from_mapping({"given_name": "Anna", "family_name": "Ott"}).display_name == (
        "Anna Ott"
    )
    assert contact_from_mapping({"organisation": "Ott KG"}).display_name == "Ott KG"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"display_name": "A\nB"}, "display_name"),
        (
            {"display_name": "A", "numbers": [{"type": "satellite", "number": "030 1234567"}]},
            "numbers[0].type",
        ),
        ({"display_name": "A", "numbers": "030 1234567"}, "numbers"),
        ({"display_name": "A", "language": "Deutsch"}, "language"),
        ({"display_name": "A", "vip": "maybe"}, "vip"),
        ({"display_name": "A", "consent_at": "yesterday"}, "consent_at"),
        ({"display_name": "A", "tags": 5}, "tags"),
        ({"display_name": "A" * 201}, "display_name"),
        ({"display_name": "A", "notes": "ok\x00bad"}, "notes"),
    ],
)
def test_bad_fields_are_named(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        contact_from_mapping(data)
    assert info.value.field == field and info.value.reason


def test_numbers_are_normalised_and_deduplicated_tags_split() -> None:
    c = contact_from_mapping(
        {
            "display_name": "A",
            "numbers": [
                {"type": "Mobile", "number": "0171 1234567"},
                {"type": "work", "number": "+49 171 1234567"},  # same number again
            ],
            "tags": "a; b|a",
            "consent_at": "2025-03-07",
        }
    )
    assert [(n.kind, n.e164) for n in c.numbers] == [("mobile", "+491711234567")]
    assert c.tags == ("a", "b")
    assert c.consent_at == datetime(2025, 3, 7, tzinfo=UTC)
    assert contact_from_mapping(contact_to_mapping(c)) == c


def test_merge_keeps_values_and_unites_numbers_tags_notes() -> None:
    keep = contact_from_mapping(
        {"display_name": "Keep", "email": "k@x.de", "tags": ["a"], "notes": "first",
         "numbers": [{"number": "030 1111111"}]}
    )  # fmt: skip
    other = contact_from_mapping(
        {"display_name": "Other", "email": "o@x.de", "city": "Köln", "tags": ["b", "a"],
         "notes": "second", "vip": True,
         "numbers": [{"number": "030 1111111"}, {"number": "030 2222222"}]}
    )  # fmt: skip
    m = merged(keep, other)
    assert (m.display_name, m.email, m.city, m.vip) == ("Keep", "k@x.de", "Köln", True)
    assert m.tags == ("a", "b")
    assert [n.e164 for n in m.numbers] == ["+49301111111", "+49302222222"]
    assert m.notes == "first\n\nsecond"
    assert merged(m, other).notes == m.notes  # merging twice does not repeat notes


def test_csv_export_reads_back_through_the_importer() -> None:
    contacts = [
        contact_from_mapping(
            {
                "display_name": 'Quote "Q", Comma',
                "notes": "two\nlines",
                "numbers": [
                    {"type": "mobile", "number": "0171 1234567"},
                    {"type": "mobile", "number": "0172 7654321"},
                    {"type": "fax", "number": "030 1234599"},
                ],
                "tags": ["x", "y"],
                "vip": True,
            }
        )
    ]
    parsed = csv_import.parse(to_csv(contacts))
    assert parsed.errors == []
    assert [c.with_source("manual") for _, c in parsed.rows] == contacts
