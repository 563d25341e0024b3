"""Number normalisation and caller classification (pure)."""

from __future__ import annotations

import itertools

import pytest

from callcenter.phone.numbers import (
    NumberError,
    classify_caller,
    normalise,
    normalise_prefix,
    prefixes_of,
    switchboard_prefix,
)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("030 12345-67", "+49301234567"),
        ("+49 30 1234567", "+49301234567"),
        ("0049301234567", "+49301234567"),
        ("(030) 123 456 78", "+493012345678"),
        ("+49 (0)30 1234567", "+49301234567"),
        ("089/123456", "+4989123456"),
        ("+1 650 253 0000", "+16502530000"),
    ],
)
def test_normalise_accepts_common_spellings(raw: str, e164: str) -> None:
    assert normalise(raw) == e164


def test_normalise_uses_the_tenant_region() -> None:
    assert normalise("020 7946 0958", "GB") == "+442079460958"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("", "empty"), ("hello", "characters"), ("12", "impossible"), ("030\r\n1", "characters")],
)
def test_normalise_refuses_with_reason(raw: str, reason: str) -> None:
    with pytest.raises(NumberError) as info:
        normalise(raw)
    assert reason in info.value.reason


@pytest.mark.parametrize("raw", [None, "", "anonymous", "Anonymous", "Restricted", "unknown"])
def test_withheld_callers_are_anonymous(raw: str | None) -> None:
    assert classify_caller(raw).kind == "anonymous"


@pytest.mark.parametrize("raw", ["abc", "12", "+49" + "9" * 40, "0\x00\n1"])
def test_malformed_callers_are_invalid_not_exceptions(raw: str) -> None:
    caller = classify_caller(raw)
    assert caller.kind == "invalid"
    assert caller.e164 is None
    assert caller.reason


def test_switchboard_prefix_from_din_notation() -> None:
    assert switchboard_prefix("030 12345-0") == "+493012345"
    assert switchboard_prefix("+49 30 12345-0") == "+493012345"
    assert switchboard_prefix("030 1234567") is None


def test_short_prefixes_are_refused() -> None:
    with pytest.raises(NumberError):
        normalise_prefix("+49 3")


def test_prefixes_longest_first_down_to_the_minimum() -> None:
    got = prefixes_of("+49301234567")
    assert got[0] == "+49301234567"
    assert got[-1] == "+493012"
    assert all(len(a) == len(b) + 1 for a, b in itertools.pairwise(got))
