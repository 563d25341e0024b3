"""Phone numbers: what callers, the PBX and users type → E.164, or a clear reason why not.

The one home of number parsing in the project (PBX caller ids, DIDs, CRM data entry,
imports, prefixes). Pure functions, no I/O. Three entry points with different contracts:

* :func:`normalise` is for data entry (contacts, imports): it raises :class:`NumberError`
  naming what was wrong, so an import can report the row.
* :func:`normalize_number` is for the call path (call records, live state, IVR): it never
  raises and answers ``None`` for withheld or unusable ids.
* :func:`classify_caller` is for the screen pop: it never raises and says *why* a caller id
  is no number (withheld, or invalid with a reason).

Which numbers may be *dialled* is a different question, answered by
:mod:`callcenter.phone.policy`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import phonenumbers

DEFAULT_REGION = "DE"
"""Region (ISO 3166 code) for numbers written without a country code, unless configured."""

NUMBER_KINDS = ("mobile", "work", "home", "fax", "switchboard", "pager", "other")
"""Allowed kinds of a stored contact number (vCard TEL types map onto these)."""

ANONYMOUS = frozenset(
    {
        "",
        "anonymous",
        "anonym",
        "unknown",
        "<unknown>",
        "unavailable",
        "restricted",
        "private",
        "withheld",
        "blocked",
        "asterisk",
        "s",
    }
)
"""Caller ids that Asterisk, PBXes and carriers use for a withheld number (lower case)."""

MAX_INPUT_LENGTH = 40
"""Longest text taken as a phone number (E.164 has at most 15 digits; room for spacing)."""

MIN_NUMBER_DIGITS = 7
"""Fewest digits (country code included) of a number we store or look up."""

MIN_PREFIX_DIGITS = 6
"""Shortest organisation number prefix accepted (digits incl. country code): '+49' alone
would swallow every German caller."""

# Only characters people type into phone numbers; anything else (letters, CR/LF, U+2028) is
# rejected before the library sees it.
_ALLOWED = re.compile(r"^[0-9+()\-./ \t]+$")
# DIN 5008 extension notation "030 12345-0": the part before the last hyphen is the base.
_DIN_EXTENSION = re.compile(r"^(?P<base>.*\d)\s*-\s*(?P<ext>\d{1,5})$")


def is_anonymous(raw: str | None) -> bool:
    """True when the caller id means "number withheld" (``None``, empty, ``anonymous``…)."""
    return raw is None or raw.strip().lower() in ANONYMOUS


class NumberError(ValueError):
    """A phone number could not be normalised; ``reason`` says why."""

    def __init__(self, raw: str, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(f"phone number {raw!r}: {reason}")


def parse(raw: str, region: str = DEFAULT_REGION) -> phonenumbers.PhoneNumber:
    """``raw`` parsed by libphonenumber after the character check; :class:`NumberError` else.

    ``00`` international prefixes are accepted whatever the region (``0049 …``).
    """
    text = raw.strip()
    if not text:
        raise NumberError(raw, "empty")
    if len(text) > MAX_INPUT_LENGTH:
        raise NumberError(raw[:MAX_INPUT_LENGTH] + "…", f"longer than {MAX_INPUT_LENGTH}")
    if not _ALLOWED.match(text):
        raise NumberError(raw, "contains characters that are not part of a phone number")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        return phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise NumberError(raw, f"not a phone number ({exc.args[0] if exc.args else exc})") from exc


def e164(number: phonenumbers.PhoneNumber) -> str:
    """The E.164 text of a parsed number (``+4930…``)."""
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return the E.164 form of ``raw`` (``'030 1234567'`` → ``'+49301234567'``).

    ``region`` is the tenant's default region for numbers written without a country code.
    Raises :class:`NumberError` for empty, non-numeric or impossible numbers.
    """
    parsed = parse(raw, region)
    if not phonenumbers.is_possible_number(parsed):
        raise NumberError(raw, "impossible length for its country")
    text = e164(parsed)
    # libphonenumber deems short codes possible ("12" → +4912); no caller dials from those.
    if len(text) - 1 < MIN_NUMBER_DIGITS:
        raise NumberError(raw, f"impossible length (fewer than {MIN_NUMBER_DIGITS} digits)")
    return text


@functools.lru_cache(maxsize=65_536)
def normalize_number(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """Caller or dialled number → E.164, or None if anonymous or malformed. Never raises.

    ``region`` is the default country for national numbers (``030 1234567`` in DE). A number
    written internationally (``+``/``00``) only has to be a possible length, so new ranges
    still pass; a national one must be valid, so extensions such as ``12`` are not
    mistaken for German numbers. Cached: the call path asks for the same ids again and again.
    """
    if is_anonymous(raw):
        return None
    assert raw is not None
    try:
        number = parse(raw, region)
    except NumberError:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    international = raw.strip().startswith(("+", "00"))
    if not international and not phonenumbers.is_valid_number(number):
        return None
    return e164(number)


def region_of(e164_number: str) -> str | None:
    """ISO region of an E.164 number (``'+4930…'`` → ``'DE'``); ``'001'`` for non-geographic
    ranges (satellite, international freephone); ``None`` when it does not parse."""
    try:
        number = phonenumbers.parse(e164_number, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    return str(region) if region else None


def switchboard_prefix(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """The direct-dial prefix implied by a switchboard written as ``'030 12345-0'``.

    German companies write their base number with the switchboard extension after a hyphen;
    every direct-dial number is the base followed by other digits. Returns the E.164 base
    (``'+493012345'``) or ``None`` when the number has no extension notation.
    """
    m = _DIN_EXTENSION.match(raw.strip())
    if not m:
        return None
    return normalise_prefix(m.group("base"), region)


def normalise_prefix(raw: str, region: str = DEFAULT_REGION) -> str:
    """Normalise a number *prefix* (too short to be a possible number on its own).

    Parsed like a number with a dummy extension so the trunk prefix/country code rules apply,
    then the dummy digits are removed. Raises :class:`NumberError` when shorter than
    :data:`MIN_PREFIX_DIGITS` digits.
    """
    text = raw.strip()
    if not text or not _ALLOWED.match(text) or len(text) > MAX_INPUT_LENGTH:
        raise NumberError(raw, "not a number prefix")
    try:
        parsed = phonenumbers.parse(text + "0000", region.upper())
    except phonenumbers.NumberParseException as exc:
        raise NumberError(raw, "not a number prefix") from exc
    prefix = e164(parsed)[:-4]
    if len(prefix) - 1 < MIN_PREFIX_DIGITS:
        raise NumberError(raw, f"prefix shorter than {MIN_PREFIX_DIGITS} digits")
    return prefix


def prefixes_of(e164_number: str) -> list[str]:
    """Candidate organisation prefixes of a caller number, longest first.

    ``'+4930123456'`` → ``['+4930123456', '+493012345', …, '+49301']`` down to
    :data:`MIN_PREFIX_DIGITS` digits. The lookup asks the index for all of them at once.
    """
    digits = len(e164_number) - 1
    return [e164_number[: n + 1] for n in range(digits, MIN_PREFIX_DIGITS - 1, -1)]


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
    if is_anonymous(text):
        return Caller("anonymous", text)
    if len(text) > MAX_INPUT_LENGTH:
        return Caller("invalid", text[:MAX_INPUT_LENGTH], reason="too long")
    try:
        return Caller("number", text, e164=normalise(text, region))
    except NumberError as exc:
        return Caller("invalid", text, reason=exc.reason)
    except Exception as exc:  # the call path must never crash on a caller id
        return Caller("invalid", text, reason=f"unparseable ({type(exc).__name__})")


def number_forms(e164: str, raws: Iterable[str] = ()) -> list[str]:
    """The ways a number may have been written by a PBX, a person or a CSV: E.164,
    ``00…``, without ``+``, national with trunk prefix (``030…``), the national
    significant number, and each of ``raws`` as given and with only its digits."""
    out = {e164, e164.lstrip("+"), "00" + e164.lstrip("+")}
    try:
        parsed = phonenumbers.parse(e164, None)
        nsn = phonenumbers.national_significant_number(parsed)
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        out |= {nsn, national, re.sub(r"[^\d]", "", national)}
    except phonenumbers.NumberParseException:
        pass
    for raw in raws:
        if raw:
            out |= {raw.strip(), re.sub(r"[^\d+]", "", raw)}
    return sorted((f for f in out if len(re.sub(r"\D", "", f)) >= 5), key=lambda f: -len(f))


def mask_numbers(text: str, forms: Sequence[str]) -> str:
    """Replace every form (a whole number: no digit right before or after) by ``x``s."""
    for form in forms:
        if form and form in text:
            pattern = r"(?<!\d)" + re.escape(form) + r"(?!\d)"
            text = re.sub(pattern, lambda m: "x" * len(m.group(0)), text)
    return text
