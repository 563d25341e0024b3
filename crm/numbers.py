"""Phone number normalisation: what callers and users type → E.164, or a clear reason why not.

Pure functions, no I/O. Two entry points with different contracts:

* :func:`normalise` is for data entry (contacts, imports): it raises :class:`NumberError`
  naming what was wrong, so an import can report the row.
* :func:`classify_caller` is for the call path: it never raises. Caller ids arrive from the
  PBX as anything ("anonymous", "", "Restricted", "+49 30 …", garbage); the screen pop
  needs a verdict, not an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers

NUMBER_KINDS = ("mobile", "work", "home", "fax", "switchboard", "pager", "other")
"""Allowed number types (vCard TEL types map onto these)."""

DEFAULT_REGION = "DE"

# Caller ids that PBXes and carriers use for withheld numbers (compared case-insensitively).
_ANONYMOUS = frozenset(
    {
        "",
        "anonymous",
        "anonym",
        "unknown",
        "unavailable",
        "restricted",
        "private",
        "withheld",
        "blocked",
        "<unknown>",
        "asterisk",
        "s",
    }
)

# Only characters people type into phone numbers; anything else (letters, CR/LF) is rejected.
_ALLOWED = re.compile(r"^[0-9+()\-./ \t]+$")
# DIN 5008 extension notation "030 12345-0": the part before the last hyphen is the base.
_DIN_EXTENSION = re.compile(r"^(?P<base>.*\d)\s*-\s*(?P<ext>\d{1,5})$")

MIN_NUMBER_DIGITS = 7
"""Fewest digits (country code included) of a number we store or look up."""

MIN_PREFIX_DIGITS = 6
"""Shortest organisation number prefix accepted (digits incl. country code): '+49' alone
would swallow every German caller."""


class NumberError(ValueError):
    """A phone number could not be normalised; ``reason`` says why."""

    def __init__(self, raw: str, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(f"phone number {raw!r}: {reason}")


def normalise(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return the E.164 form of ``raw`` (``'030 1234567'`` → ``'+49301234567'``).

    ``region`` is the tenant's default region for numbers written without a country code.
    Raises :class:`NumberError` for empty, non-numeric or impossible numbers.
    """
    text = raw.strip()
    if not text:
        raise NumberError(raw, "empty")
    if not _ALLOWED.match(text):
        raise NumberError(raw, "contains characters that are not part of a phone number")
    try:
        parsed = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise NumberError(raw, f"not a phone number ({exc.args[0] if exc.args else exc})") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise NumberError(raw, "impossible length for its country")
    e164 = str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    # libphonenumber deems short codes possible ("12" → +4912); no caller dials from those.
    if len(e164) - 1 < MIN_NUMBER_DIGITS:
        raise NumberError(raw, f"impossible length (fewer than {MIN_NUMBER_DIGITS} digits)")
    return e164


def switchboard_prefix(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """The direct-dial prefix implied by a switchboard written as ``'030 12345-0'``.

    German companies write their base number with the switchboard extension after a hyphen;
    every direct-dial number is the base followed by other digits. Returns the E.164 base
    (``'+493012345'``) or ``None`` when the number has no extension notation.
    """
    m = _DIN_EXTENSION.match(raw.strip())
    if not m:
        return None
    base = normalise_prefix(m.group("base"), region)
    return base


def normalise_prefix(raw: str, region: str = DEFAULT_REGION) -> str:
    """Normalise a number *prefix* (too short to be a possible number on its own).

    Parsed like a number with a dummy extension so the trunk prefix/country code rules apply,
    then the dummy digits are removed. Raises :class:`NumberError` when shorter than
    :data:`MIN_PREFIX_DIGITS` digits.
    """
    text = raw.strip()
    if not text or not _ALLOWED.match(text):
        raise NumberError(raw, "not a number prefix")
    padded = text + "0000"
    try:
        parsed = phonenumbers.parse(padded, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise NumberError(raw, "not a number prefix") from exc
    full = str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    prefix = full[:-4]
    if len(prefix) - 1 < MIN_PREFIX_DIGITS:
        raise NumberError(raw, f"prefix shorter than {MIN_PREFIX_DIGITS} digits")
    return prefix


def prefixes_of(e164: str) -> list[str]:
    """Candidate organisation prefixes of a caller number, longest first.

    ``'+4930123456'`` → ``['+4930123456', '+493012345', …, '+49301']`` down to
    :data:`MIN_PREFIX_DIGITS` digits. The lookup asks the index for all of them at once.
    """
    digits = len(e164) - 1
    return [e164[: n + 1] for n in range(digits, MIN_PREFIX_DIGITS - 1, -1)]


CallerKind = Literal["number", "anonymous", "invalid"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Verdict on a caller id: a number in E.164, withheld, or unusable."""

    kind: CallerKind
    raw: str
    e164: str | None = None
    reason: str | None = None


def classify_caller(raw: str | None, region: str = DEFAULT_REGION) -> Caller:
    """Classify the caller id the PBX delivered. Never raises."""
    text = (raw or "").strip()
    if text.lower() in _ANONYMOUS:
        return Caller("anonymous", text)
    if len(text) > 40:
        return Caller("invalid", text[:40], reason="too long")
    try:
        return Caller("number", text, e164=normalise(text, region))
    except NumberError as exc:
        return Caller("invalid", text, reason=exc.reason)
    except Exception as exc:  # the call path must never crash on a caller id
        return Caller("invalid", text, reason=f"unparseable ({type(exc).__name__})")
