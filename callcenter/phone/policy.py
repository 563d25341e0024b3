"""The one destination policy: which numbers the system may dial out to (toll fraud).

Rule of this module: every outgoing leg the app asks the PBX for -- blind and attended
transfers, callbacks, trunk calls -- passes :meth:`DestinationPolicy.check` first, and is
dialled with the :attr:`Destination.max_seconds` limit it returns. Nothing else decides
whether a number may be called.

What is refused (each with its :class:`Refusal` code, shown to the user in a 422):

* anything that is not a valid, complete number (``malformed``, ``invalid``);
* emergency numbers and short codes (``emergency``, ``short_code``): a receptionist or a
  caller's "callback number" must never make the secretariat's trunk dial 112 or 118xx;
* non-geographic international networks -- satellite (+881, +870), international networks
  (+882, +883), international premium/shared-cost (+979, +808) -- (``international_network``);
* premium-rate, shared-cost, personal (UK +4470…, German 0700…), UAN, voicemail-access
  and pager numbers, and numbers of unknown type (``premium_rate`` … ``unknown_type``);
* countries outside the tenant's allowed set (``country``); the default set is the
  tenant's own country only, so +53, +252, +239 … are refused unless a tenant lists them;
* *free-form* numbers -- typed by a person rather than taken from the tenant's staff
  directory or the caller's own id -- unless the policy allows them (``free_form``), or for
  receptionists when only supervisors and admins may (``free_form_role``). The default is
  supervisors only.

Toll-free numbers of an allowed country are ordinary destinations (they cost nothing).

Usage (issue #10 callbacks, #14 trunks, call control)::

    policy = DestinationPolicy.for_country("DE")           # or a tenant's own policy
    try:
        dest = policy.check(raw, free_form=True, privileged=principal_is_supervisor)
    except DestinationRefused as exc:
        return 422 with exc.reason (code) and exc.detail (sentence)
    dial(dest.e164, limit=dest.max_seconds)

Pure: no I/O, so tables of numbers test it (tests/unit/test_phone_policy.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

import phonenumbers
from phonenumbers import PhoneNumberType

from callcenter.phone.numbers import DEFAULT_REGION, NumberError, e164, is_anonymous, parse

NON_GEOGRAPHIC = "001"
"""libphonenumber's region for numbers of no country (satellite, international networks)."""

DEFAULT_MAX_CALL_SECONDS = 3600
"""Absolute limit of an outgoing leg unless configured: one hour."""

FreeNumbers = Literal["off", "supervisor", "on"]
"""Who may dial free-form (typed) numbers: nobody, supervisors/admins only, everybody."""

FREE_NUMBER_CHOICES: tuple[FreeNumbers, ...] = ("off", "supervisor", "on")


class Refusal(StrEnum):
    """Why a destination is refused (the ``reason`` in the 422 body)."""

    ANONYMOUS = "anonymous"
    MALFORMED = "malformed"
    INVALID = "invalid"
    EMERGENCY = "emergency"
    SHORT_CODE = "short_code"
    INTERNATIONAL_NETWORK = "international_network"
    COUNTRY = "country"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    PERSONAL = "personal"
    UAN = "uan"
    VOICEMAIL = "voicemail_access"
    PAGER = "pager"
    UNKNOWN_TYPE = "unknown_type"
    FREE_FORM = "free_form"
    FREE_FORM_ROLE = "free_form_role"


_REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: (Refusal.PREMIUM_RATE, "a premium-rate number"),
    PhoneNumberType.SHARED_COST: (Refusal.SHARED_COST, "a shared-cost number"),
    PhoneNumberType.PERSONAL_NUMBER: (Refusal.PERSONAL, "a personal (follow-me) number"),
    PhoneNumberType.UAN: (Refusal.UAN, "a universal access number (UAN)"),
    PhoneNumberType.VOICEMAIL: (Refusal.VOICEMAIL, "a voicemail-access number"),
    PhoneNumberType.PAGER: (Refusal.PAGER, "a pager number"),
    PhoneNumberType.UNKNOWN: (Refusal.UNKNOWN_TYPE, "of unknown type"),
}

_KIND_NAMES = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.TOLL_FREE: "toll_free",
}


class DestinationRefused(ValueError):
    """The destination may not be dialled: ``reason`` (a :class:`Refusal`) and ``detail``."""

    def __init__(self, raw: str, reason: Refusal, detail: str) -> None:
        self.raw = raw
        self.reason = reason
        self.detail = detail
        super().__init__(detail)


@dataclass(frozen=True, slots=True)
class Destination:
    """A number the policy allows: E.164, its country, its kind, the call-length limit."""

    e164: str
    region: str
    kind: str  # fixed_line, mobile, fixed_line_or_mobile, voip, toll_free
    max_seconds: int


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """Where one tenant's outgoing legs may go.

    ``countries``: ISO region codes that may be dialled (default: the tenant's own).
    ``region``: how national numbers (``089 …``) are read. ``free_numbers``: who may dial
    free-form numbers. ``max_call_seconds``: absolute length of every outgoing leg.
    """

    countries: frozenset[str] = field(default_factory=lambda: frozenset({DEFAULT_REGION}))
    region: str = DEFAULT_REGION
    free_numbers: FreeNumbers = "supervisor"
    max_call_seconds: int = DEFAULT_MAX_CALL_SECONDS

    def __post_init__(self) -> None:
        if self.max_call_seconds <= 0:
            raise ValueError("max_call_seconds must be positive")
        bad = sorted(c for c in self.countries if c not in phonenumbers.SUPPORTED_REGIONS)
        if bad:
            raise ValueError(f"countries: unknown region code(s) {', '.join(bad)}")

    @classmethod
    def for_country(
        cls,
        region: str,
        *,
        also: frozenset[str] = frozenset(),
        free_numbers: FreeNumbers = "supervisor",
        max_call_seconds: int = DEFAULT_MAX_CALL_SECONDS,
    ) -> DestinationPolicy:
        """The default policy of a tenant in ``region``: its own country plus ``also``."""
        region = region.upper()
        return cls(frozenset({region}) | also, region, free_numbers, max_call_seconds)

    @classmethod
    def anywhere(cls, region: str = DEFAULT_REGION) -> DestinationPolicy:
        """Every country, every other rule kept: a format and number-type guard for stores
        that do not know the tenant (the tenant's own policy decides before)."""
        return cls(frozenset(phonenumbers.SUPPORTED_REGIONS), region.upper(), "on")

    def check(self, raw: str, *, free_form: bool = False, privileged: bool = False) -> Destination:
        """``raw`` as an allowed :class:`Destination`, else :class:`DestinationRefused`.

        ``free_form``: a person typed the number (not the staff directory, not the caller's
        own id). ``privileged``: that person is a supervisor or admin.
        """
        if free_form:
            self._check_free_form(raw, privileged)
        if is_anonymous(raw):
            raise DestinationRefused(raw, Refusal.ANONYMOUS, "the number is withheld (anonymous)")
        try:
            number = parse(raw, self.region)
        except NumberError as exc:
            raise DestinationRefused(raw, Refusal.MALFORMED, f"{raw!r}: {exc.reason}") from None
        if _is_emergency(number):
            raise DestinationRefused(raw, Refusal.EMERGENCY, f"{raw!r} is an emergency number")
        if phonenumbers.is_valid_short_number(number) or _is_short(number):
            raise DestinationRefused(raw, Refusal.SHORT_CODE, f"{raw!r} is a short code")
        region = phonenumbers.region_code_for_number(number) or ""
        if region == NON_GEOGRAPHIC:
            raise DestinationRefused(
                raw,
                Refusal.INTERNATIONAL_NETWORK,
                f"{raw!r} is on an international network (satellite or non-geographic): "
                "not allowed",
            )
        if not phonenumbers.is_valid_number(number):
            raise DestinationRefused(raw, Refusal.INVALID, f"{raw!r} is not a valid number")
        kind = phonenumbers.number_type(number)
        if kind in _REFUSED_TYPES:
            reason, what = _REFUSED_TYPES[kind]
            raise DestinationRefused(raw, reason, f"{raw!r} is {what}: not allowed")
        if region not in self.countries:
            allowed = ", ".join(sorted(self.countries))
            raise DestinationRefused(
                raw,
                Refusal.COUNTRY,
                f"{raw!r} is in {region or 'no known country'}; this tenant may dial {allowed}",
            )
        return Destination(e164(number), region, _KIND_NAMES[kind], self.max_call_seconds)

    def _check_free_form(self, raw: str, privileged: bool) -> None:
        if self.free_numbers == "off":
            raise DestinationRefused(
                raw, Refusal.FREE_FORM, "only staff members may be dialled here"
            )
        if self.free_numbers == "supervisor" and not privileged:
            raise DestinationRefused(
                raw,
                Refusal.FREE_FORM_ROLE,
                "only supervisors and admins may dial a typed number; "
                "receptionists transfer to staff members or queues",
            )


def _is_emergency(number: phonenumbers.PhoneNumber) -> bool:
    # "+49 112" is as much an emergency call as "112": ask in the number's own country.
    nsn = str(phonenumbers.national_significant_number(number))
    regions = phonenumbers.region_codes_for_country_code(number.country_code or 0)
    return any(phonenumbers.is_emergency_number(nsn, r) for r in regions)


def _is_short(number: phonenumbers.PhoneNumber) -> bool:
    # Fewer than five national digits is a service code or an extension, never a number
    # we dial out to (libphonenumber's short-number data misses some).
    return len(str(phonenumbers.national_significant_number(number))) < 5


class TenantDialling(Protocol):
    """What the policy needs of a tenant (:class:`ivr.tenancy.Tenant` has both)."""

    @property
    def dialling(self) -> DestinationPolicy | None: ...

    @property
    def home_region(self) -> str | None: ...


def policy_for(
    tenant: TenantDialling | None,
    *,
    region: str = DEFAULT_REGION,
    free_numbers: FreeNumbers = "supervisor",
    max_call_seconds: int = DEFAULT_MAX_CALL_SECONDS,
) -> DestinationPolicy:
    """A tenant's policy: its own ``[dialling]`` if it has one, else its home country's
    default; ``region``/``free_numbers`` are the app's defaults, ``max_call_seconds`` the
    app's absolute limit (it always wins: it is the operator's, not the tenant's, money)."""
    own = tenant.dialling if tenant is not None else None
    if own is not None:
        return dataclasses.replace(own, max_call_seconds=max_call_seconds)
    home = (tenant.home_region if tenant is not None else None) or region
    return DestinationPolicy.for_country(
        home, free_numbers=free_numbers, max_call_seconds=max_call_seconds
    )
