"""Cells that a spreadsheet will never run as a formula (CSV/formula injection).

Excel, LibreOffice and Google Sheets treat a cell starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return as a formula: a contact named ``=HYPERLINK("http://evil",
"click")`` or ``+cmd|' /C calc'!A0`` in an export runs on the controller's machine.
:func:`safe_cell` prefixes such cells with an apostrophe (shown as text, not stored by the
spreadsheet). Plain numbers such as ``+49 30 1234567`` or ``-12`` are left alone: at
worst they are read as numbers, never as a formula with a function or reference.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_LIKE = re.compile(r"^[+-]?\d[\d ()./-]*$")


def safe_cell(value: str) -> str:
    """``value`` as a cell every spreadsheet shows as text."""
    if value.startswith(FORMULA_STARTS) and not _NUMBER_LIKE.match(value):
        return "'" + value
    return value
