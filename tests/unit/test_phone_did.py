"""Carrier DID formats → E.164 (callcenter.phone.did)."""

from __future__ import annotations

import pytest

from callcenter.phone.did import called_user, readings, resolve_did

OURS = {"+49891230000", "+494921912345"}


@pytest.mark.parametrize(
    ("value", "user"),
    [
        ('"Desk" <sip:+4989123;npdi;rn=+4989000@carrier.example>;tag=1', "+4989123"),
        ("<tel:+4989123;phone-context=example.com>", "+4989123"),
        ("sips:0891230000@127.0.0.1:5061", "0891230000"),
        ("0891230000", "0891230000"),
        ("cc-carrier", "cc-carrier"),
    ],
)
def test_called_user_takes_the_user_part(value: str, user: str) -> None:
    assert called_user(value) == user


@pytest.mark.parametrize(
    "raw",
    [
        "+49891230000",
        "0049891230000",
        "49891230000",
        "0891230000",
        "891230000",
        "+49 (89) 123-0000",
        "<sip:0891230000;npdi@carrier.example>",
    ],
)
def test_every_carrier_format_finds_the_did(raw: str) -> None:
    assert resolve_did(raw, OURS.__contains__) == "+49891230000"


def test_an_ambiguous_number_is_read_as_the_did_we_have() -> None:
    # 4921912345: +49 21912345 (country code read) or 04921 912345 (Emden, no trunk prefix).
    assert list(readings("4921912345")) == ["+4921912345", "+494921912345"]
    assert resolve_did("4921912345", OURS.__contains__) == "+494921912345"
    assert resolve_did("4921912345", set().__contains__) == "+4921912345"


@pytest.mark.parametrize("raw", ["", "s", "cc-carrier", "12", "anonymous", "+"])
def test_no_number_gives_none(raw: str) -> None:
    assert resolve_did(raw, OURS.__contains__) is None


def test_other_country_code() -> None:
    assert resolve_did("01 42 68 53 00", {"+33142685300"}.__contains__, "33") == "+33142685300"
