"""vCard 3.0/4.0 reader and writer (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crm import vcard
from crm.contact import ContactData, NumberEntry

FULL = ContactData(
    display_name="Anna Schmidt-Müller; Dr., \\ backslash",
    given_name="Anna",
    family_name="Schmidt-Müller",
    organisation="Müller GmbH, Berlin",
    email="anna@mueller.example",
    numbers=(
        NumberEntry("mobile", "0171 1234567", "+491711234567"),
        NumberEntry("work", "030 12345-67", "+49301234567"),
        NumberEntry("switchboard", "030 12345-0", "+493012345 0".replace(" ", "")),
        NumberEntry("fax", "+49 30 12345-99", "+493012345 99".replace(" ", "")),
        NumberEntry("home", "089 123456", "+4989123456"),
        NumberEntry("other", "+44 20 7946 0958", "+442079460958"),
    ),
    street="Hauptstraße 1; Hinterhaus",
    postal_code="10115",
    city="Berlin",
    region="BE",
    country="Deutschland",
    language="de",
    tags=("Stammkunde", "a,b", "Wichtig"),
    vip=True,
    notes="Erste Zeile\nZweite Zeile mit Umlauten äöüß und einem sehr langen Text, "
    "der sicher über fünfundsiebzig Oktette hinausgeht, damit gefaltet wird. 😀" * 2,
    consent_basis="consent",
    consent_at=datetime(2025, 3, 7, 9, 30, tzinfo=UTC),
    source="import:vcard",
)


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_round_trip_keeps_every_field(version: str) -> None:
    text = vcard.serialize([FULL, replace(FULL, display_name="Zweite", vip=False)], version)
    result = vcard.parse(text)
    assert result.errors == []
    assert [c for _, c in result.cards] == [FULL, replace(FULL, display_name="Zweite", vip=False)]


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_lines_are_folded_to_75_octets_with_crlf(version: str) -> None:
    text = vcard.serialize([FULL], version)
    assert text.endswith("\r\n")
    for line in text.split("\r\n"):
        assert len(line.encode()) <= 75
    assert "\r\n " in text  # the long NOTE was folded


def test_reads_foreign_3_0_card_with_groups_and_bare_types() -> None:
    text = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Jones;Bob;;;\r\nFN:Bob Jones\r\n"
        "item1.TEL;TYPE=CELL:+44 7700 900123\r\nTEL;WORK;VOICE:020 7946 0958\r\n"
        "EMAIL;TYPE=INTERNET,PREF:bob@example.co.uk\r\nORG:Acme Ltd;Sales\r\n"
        "NOTE:line one\\nline two\\, with comma\r\n"
        "CATEGORIES:Kunde,Lieferant\r\nEND:VCARD\r\n"
    )
    result = vcard.parse(text, region="GB")
    assert result.errors == []
    ((_, c),) = result.cards
    assert (c.display_name, c.given_name, c.family_name) == ("Bob Jones", "Bob", "Jones")
    assert c.organisation == "Acme Ltd"
    assert [(n.kind, n.e164) for n in c.numbers] == [
        ("mobile", "+447700900123"),
        ("work", "+442079460958"),
    ]
    assert c.notes == "line one\nline two, with comma"
    assert c.tags == ("Kunde", "Lieferant")


def test_reads_4_0_tel_uri_and_folded_lines() -> None:
    text = (
        "BEGIN:VCARD\nVERSION:4.0\nFN:Eva\n  Example\n"
        'TEL;VALUE=uri;TYPE="cell,voice":tel:+49-171-1\n'
        " 234567\nLANG:en\nEND:VCARD\n"
    )
    result = vcard.parse(text)
    assert result.errors == []
    ((_, c),) = result.cards
    assert c.display_name == "Eva Example"
    assert c.numbers == (NumberEntry("mobile", "+49-171-1234567", "+491711234567"),)
    assert c.language == "en"


def test_bad_cards_are_reported_with_their_line_and_the_rest_kept() -> None:
    text = (
        "BEGIN:VCARD\nVERSION:3.0\nFN:Good One\nTEL:030 1234567\nEND:VCARD\n"  # 1-5
        "BEGIN:VCARD\nVERSION:3.0\nFN:Bad Number\nTEL:call me\nEND:VCARD\n"  # 6-10
        "BEGIN:VCARD\nVERSION:2.1\nFN:Old\nEND:VCARD\n"  # 11-14
        "BEGIN:VCARD\nVERSION:4.0\nthis line has no colon\nFN:Broken\nEND:VCARD\n"  # 15-19
        "BEGIN:VCARD\nVERSION:4.0\nFN:Unterminated\n"  # 20-22
    )
    result = vcard.parse(text)
    assert [c.display_name for _, c in result.cards] == ["Good One"]
    got = {(e.line, e.reason.split(":")[0]) for e in result.errors}
    assert (6, "numbers[0].number") in got
    assert (11, "VERSION") in got
    assert any(line == 17 for line, _ in got)
    assert (20, "BEGIN") in {(e.line, e.reason.split(":")[0]) for e in result.errors}
