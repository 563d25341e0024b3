"""The destination policy (toll fraud): one table of numbers, each allowed or refused why."""

from __future__ import annotations

import pytest

from callcenter.phone.policy import DestinationPolicy, DestinationRefused, Refusal

DE = DestinationPolicy.for_country("DE")


@pytest.mark.parametrize(
    ("raw", "expected", "kind"),
    [
        ("+49 151 23456789", "+4915123456789", "mobile"),
        ("089 1234569", "+49891234569", "fixed_line"),
        ("0049 89 1234569", "+49891234569", "fixed_line"),
    ],
)
def test_ordinary_numbers_of_the_own_country_pass(raw: str, expected: str, kind: str) -> None:
    dest = DE.check(raw)
    assert (dest.e164, dest.region, dest.kind) == (expected, "DE", kind)
    assert dest.max_seconds == DE.max_call_seconds > 0


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        # The numbers of the security report, each dialled by Asterisk on the old main.
        ("+881 6 12345678", Refusal.INTERNATIONAL_NETWORK),  # Iridium satellite
        ("+870 772 123456", Refusal.INTERNATIONAL_NETWORK),  # Inmarsat
        ("+882 1234 5678", Refusal.INTERNATIONAL_NETWORK),  # international networks
        ("+800 12345678", Refusal.INTERNATIONAL_NETWORK),  # international freephone
        ("+53 7 8661234", Refusal.COUNTRY),  # Cuba
        ("+252 1 234567", Refusal.COUNTRY),  # Somalia
        ("+239 222 1234", Refusal.COUNTRY),  # São Tomé
        ("+44 20 7946 0018", Refusal.COUNTRY),  # ordinary London line, but not allowed
        ("+44 70 1234 5678", Refusal.PERSONAL),  # UK personal number
        ("0700 12345678", Refusal.PERSONAL),  # German personal number
        ("0900 1234567", Refusal.PREMIUM_RATE),
        ("+49 180 1234567", Refusal.SHARED_COST),
        ("112", Refusal.EMERGENCY),
        ("110", Refusal.EMERGENCY),
        ("+49 112", Refusal.EMERGENCY),
        ("116116", Refusal.SHORT_CODE),
        ("118 33", Refusal.SHORT_CODE),
        ("12", Refusal.SHORT_CODE),
        ("+49 151 2345\r\nAction: Originate", Refusal.MALFORMED),
        ("+49 151 2345\u2028678", Refusal.MALFORMED),
        ("call me", Refusal.MALFORMED),
        ("", Refusal.ANONYMOUS),
        ("anonymous", Refusal.ANONYMOUS),
        ("+49 " + "1" * 60, Refusal.MALFORMED),
    ],
)
def test_refused_with_the_reason(raw: str, reason: Refusal) -> None:
    with pytest.raises(DestinationRefused) as info:
        DE.check(raw)
    assert info.value.reason is reason
    assert info.value.detail  # a sentence for the 422 body


def test_more_countries_per_tenant() -> None:
    policy = DestinationPolicy.for_country("DE", also=frozenset({"GB", "AT"}))
    assert policy.check("+44 20 7946 0018").e164 == "+442079460018"
    with pytest.raises(DestinationRefused) as info:
        policy.check("+44 70 1234 5678")  # still a personal number
    assert info.value.reason is Refusal.PERSONAL
    with pytest.raises(DestinationRefused):
        policy.check("+53 7 8661234")


def test_typed_numbers_are_for_supervisors_by_default() -> None:
    with pytest.raises(DestinationRefused) as info:
        DE.check("089 1234569", free_form=True)
    assert info.value.reason is Refusal.FREE_FORM_ROLE
    assert DE.check("089 1234569", free_form=True, privileged=True).e164 == "+49891234569"
    assert DE.check("089 1234569").e164 == "+49891234569"  # from a directory: no role rule
    off = DestinationPolicy.for_country("DE", free_numbers="off")
    with pytest.raises(DestinationRefused) as info:
        off.check("089 1234569", free_form=True, privileged=True)
    assert info.value.reason is Refusal.FREE_FORM
    on = DestinationPolicy.for_country("DE", free_numbers="on")
    assert on.check("089 1234569", free_form=True).e164 == "+49891234569"
    # Even a supervisor's typed number passes every other rule.
    with pytest.raises(DestinationRefused) as info:
        on.check("+881 6 12345678", free_form=True, privileged=True)
    assert info.value.reason is Refusal.INTERNATIONAL_NETWORK


def test_toll_free_numbers_of_an_allowed_country_are_ordinary() -> None:
    assert DE.check("0800 1234567").kind == "toll_free"


def test_call_length_limit_is_carried() -> None:
    policy = DestinationPolicy.for_country("DE", max_call_seconds=600)
    assert policy.check("089 1234569").max_seconds == 600
    with pytest.raises(ValueError, match="max_call_seconds"):
        DestinationPolicy.for_country("DE", max_call_seconds=0)
    with pytest.raises(ValueError, match="XX"):
        DestinationPolicy(countries=frozenset({"XX"}))


def test_national_numbers_are_read_in_the_tenants_region() -> None:
    at = DestinationPolicy.for_country("AT")
    assert at.check("01 5123456").e164 == "+4315123456"
    with pytest.raises(DestinationRefused) as info:
        at.check("+49 89 1234569")
    assert info.value.reason is Refusal.COUNTRY
