"""The number a carrier says was dialled → the tenant DID it means (pure).

Carriers send the called number in different places and shapes: ``+49891234560``,
``0049891234560``, ``49891234560``, national ``0891234560`` or the national number without
the trunk prefix (``891234560``), in the Request-URI, the ``To`` or a
``P-Called-Party-ID`` header, sometimes with URI parameters (``;npdi;rn=…``) or visual
separators. The dialplan picks the header (per trunk, :mod:`lines.dialplan`) and hands over
the digits; here they become E.164.

Rule of this module: a digit string can be read several ways (``4930…`` is Berlin with the
country code, or a national number of the 0493x area without its 0), so every reading is
tried and the first one that is a known DID wins; only when none is known is the first
valid reading returned (for logs and the "no tenant" path).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import phonenumbers

_SEPARATORS = re.compile(r"[\s().\-/]")
_DIGITS = re.compile(r"^\+?[0-9]{2,32}$")


def called_user(value: str) -> str:
    """The user part of a SIP/TEL URI or name-addr, without parameters; else ``value``.

    ``"Desk" <sip:+4989123;npdi@carrier.example>;tag=1`` → ``+4989123``;
    ``<tel:+4989123;phone-context=x>`` → ``+4989123``; ``0891234`` → ``0891234``.
    """
    text = value.strip()
    if "<" in text and ">" in text:
        text = text[text.index("<") + 1 : text.index(">")]
    for scheme in ("sips:", "sip:", "tel:"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
            break
    text = text.split("@", 1)[0]
    return text.split(";", 1)[0]


def readings(raw: str, country_code: str = "49") -> Iterator[str]:
    """Every E.164 form ``raw`` can stand for, most likely first (duplicates removed)."""
    text = _SEPARATORS.sub("", called_user(raw))
    if not _DIGITS.match(text):
        return
    seen: set[str] = set()
    candidates: list[str] = []
    if text.startswith("+"):
        candidates.append(text)
    elif text.startswith("00"):
        candidates.append("+" + text[2:])
    elif text.startswith("0"):
        candidates.append(f"+{country_code}{text[1:]}")
    else:
        if text.startswith(country_code):
            candidates.append("+" + text)
        candidates.append(f"+{country_code}{text}")  # national number without trunk prefix
    for candidate in candidates:
        if candidate not in seen and _possible(candidate):
            seen.add(candidate)
            yield candidate


def resolve_did(raw: str, known: Callable[[str], bool], country_code: str = "49") -> str | None:
    """The E.164 DID ``raw`` means: the first reading ``known`` accepts, else the first
    valid reading, else None (nothing number-like in ``raw``)."""
    first = None
    for candidate in readings(raw, country_code):
        if known(candidate):
            return candidate
        if first is None and _valid(candidate):
            first = candidate
    return first


def _valid(e164: str) -> bool:
    return bool(phonenumbers.is_valid_number(phonenumbers.parse(e164, None)))


def _possible(e164: str) -> bool:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(number))
