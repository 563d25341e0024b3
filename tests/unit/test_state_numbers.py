"""Caller and DID normalisation to E.164 (phonenumbers, default region configurable)."""

from __future__ import annotations

import pytest

from callcenter.phone.numbers import normalize_number


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+49 30 5551234", "DE", "+49305551234"),
        ("030 5551234", "DE", "+49305551234"),
        ("0049305551234", "DE", "+49305551234"),
        ("017612345678", "DE", "+4917612345678"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("020 7946 0018", "DE", None),  # not a valid German number
        ("+441632960961", "DE", "+441632960961"),  # international form: length is enough
        ("anonymous", "DE", None),
        ("Anonymous", "DE", None),
        ("<unknown>", "DE", None),
        ("", "DE", None),
        ("12", "DE", None),  # an extension, not +4912
        ("abc", "DE", None),
        ("+", "DE", None),
        (None, "DE", None),
    ],
)
def test_normalize_number(raw: str | None, region: str, expected: str | None) -> None:
    assert normalize_number(raw, region) == expected
