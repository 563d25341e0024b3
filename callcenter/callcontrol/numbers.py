"""Transfer targets typed by a person: E.164 only, and never a premium-rate number."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType

BLOCKED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "premium-rate",
    PhoneNumberType.SHARED_COST: "shared-cost",
    PhoneNumberType.UAN: "universal access (UAN)",
    PhoneNumberType.VOICEMAIL: "voicemail access",
    PhoneNumberType.UNKNOWN: "unknown-type",
}


class NumberRefused(ValueError):
    """The number is malformed or of a blocked type; the message says which."""


def transfer_number(raw: str, region: str = "DE") -> str:
    """``raw`` as E.164 if it is a valid, dialable, not premium/shared-cost number."""
    text = raw.strip()
    if not text or len(text) > 40 or any(c in text for c in "\r\n"):
        raise NumberRefused(f"number {raw!r}: expected a phone number such as +49 89 1234567")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise NumberRefused(f"number {raw!r}: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise NumberRefused(f"number {raw!r} is not a valid phone number")
    kind = phonenumbers.number_type(number)
    if kind in BLOCKED_TYPES:
        raise NumberRefused(f"number {raw!r} is a {BLOCKED_TYPES[kind]} number: not allowed")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
