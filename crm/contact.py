"""The contact value type shared by the API, CSV/vCard import and export, and its validation.

Pure: :func:`contact_from_mapping` turns loosely typed input (JSON body, CSV row, vCard) into
a :class:`ContactData` or raises :class:`ValidationError` naming the field and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from callcenter.inputs import has_line_break
from callcenter.phone.numbers import DEFAULT_REGION, NUMBER_KINDS, NumberError, normalise
from crm.models import CONSENT_BASES

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LANG = re.compile(r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class ValidationError(ValueError):
    """Input refused: ``field`` names what was wrong, ``reason`` why."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True, slots=True)
class NumberEntry:
    """A phone number as entered plus its E.164 form."""

    kind: str
    raw: str
    e164: str


@dataclass(frozen=True, slots=True)
class ContactData:
    """Everything stored about a contact except ids and timestamps."""

    display_name: str
    given_name: str = ""
    family_name: str = ""
    organisation: str | None = None
    email: str | None = None
    numbers: tuple[NumberEntry, ...] = ()
    street: str = ""
    postal_code: str = ""
    city: str = ""
    region: str = ""
    country: str = ""
    language: str | None = None
    tags: tuple[str, ...] = ()
    vip: bool = False
    notes: str = ""
    consent_basis: str | None = None
    consent_at: datetime | None = None
    source: str = "manual"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def with_source(self, source: str) -> ContactData:
        return replace(self, source=source)


def clean_text(value: Any, name: str, max_len: int, *, multiline: bool = False) -> str:
    """Strip, refuse control characters (and CR/LF unless ``multiline``) and overlong text."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(name, "must be a string")
    text = value.strip()
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if _CONTROL.search(text.replace("\n", "").replace("\t", "")):
            raise ValidationError(name, "contains control characters")
    elif has_line_break(text) or _CONTROL.search(text):  # U+2028 & co. end lines too
        raise ValidationError(name, "must be a single line without control characters")
    if len(text) > max_len:
        raise ValidationError(name, f"longer than {max_len} characters")
    return text


def parse_number(kind: Any, raw: Any, region: str, name: str) -> NumberEntry:
    """Validate one number entry; ``name`` is the field path used in errors."""
    kind_s = (kind or "other") if isinstance(kind, str) else "other"
    kind_s = kind_s.strip().lower() or "other"
    if kind_s not in NUMBER_KINDS:
        raise ValidationError(f"{name}.type", f"must be one of {', '.join(NUMBER_KINDS)}")
    if not isinstance(raw, str):
        raise ValidationError(f"{name}.number", "must be a string")
    try:
        e164 = normalise(raw, region)
    except NumberError as exc:
        raise ValidationError(f"{name}.number", f"{raw.strip()!r}: {exc.reason}") from exc
    return NumberEntry(kind_s, raw.strip(), e164)


def parse_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("1", "true", "yes", "ja", "y", "x", "vip"):
            return True
        if v in ("", "0", "false", "no", "nein", "n"):
            return False
    raise ValidationError(name, "must be true or false")


def parse_datetime(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError(name, "must be an ISO 8601 date or date-time") from exc
    else:
        raise ValidationError(name, "must be an ISO 8601 string")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def parse_tags(value: Any, name: str = "tags") -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items: list[Any]
    if isinstance(value, str):
        items = [t for t in re.split(r"[,;|]", value)]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValidationError(name, "must be a list of strings")
    tags: list[str] = []
    for i, t in enumerate(items):
        tag = clean_text(t, f"{name}[{i}]", 64)
        if tag and tag not in tags:
            tags.append(tag)
    return tuple(tags)


def contact_from_mapping(data: Mapping[str, Any], region: str = DEFAULT_REGION) -> ContactData:
    """Build a validated :class:`ContactData` from a JSON-like mapping.

    ``numbers`` is a list of ``{"type": ..., "number": ...}``. ``display_name`` defaults to
    "given family", then to the organisation name; a contact needs one of them.
    """
    given = clean_text(data.get("given_name"), "given_name", 100)
    family = clean_text(data.get("family_name"), "family_name", 100)
    org = clean_text(data.get("organisation"), "organisation", 200) or None
    display = clean_text(data.get("display_name"), "display_name", 200)
    if not display:
        display = " ".join(p for p in (given, family) if p) or (org or "")
    if not display:
        raise ValidationError("display_name", "a name or organisation is required")
    email_raw = clean_text(data.get("email"), "email", 254)
    if email_raw and not _EMAIL.match(email_raw):
        raise ValidationError("email", f"{email_raw!r} is not an e-mail address")
    numbers_in = data.get("numbers") or []
    if not isinstance(numbers_in, list):
        raise ValidationError("numbers", "must be a list")
    numbers: list[NumberEntry] = []
    for i, item in enumerate(numbers_in):
        if not isinstance(item, Mapping):
            raise ValidationError(f"numbers[{i}]", "must be an object with type and number")
        entry = parse_number(item.get("type"), item.get("number"), region, f"numbers[{i}]")
        if all(n.e164 != entry.e164 for n in numbers):
            numbers.append(entry)
    language = clean_text(data.get("language"), "language", 16) or None
    if language and not _LANG.match(language):
        raise ValidationError("language", "must be a language code such as 'de' or 'en-GB'")
    consent = clean_text(data.get("consent_basis"), "consent_basis", 32) or None
    if consent and consent not in CONSENT_BASES:
        raise ValidationError("consent_basis", f"must be one of {', '.join(CONSENT_BASES)}")
    return ContactData(
        display_name=display,
        given_name=given,
        family_name=family,
        organisation=org,
        email=email_raw or None,
        numbers=tuple(numbers),
        street=clean_text(data.get("street"), "street", 200),
        postal_code=clean_text(data.get("postal_code"), "postal_code", 20),
        city=clean_text(data.get("city"), "city", 100),
        region=clean_text(data.get("region"), "region", 100),
        country=clean_text(data.get("country"), "country", 100),
        language=language,
        tags=parse_tags(data.get("tags")),
        vip=parse_bool(data.get("vip"), "vip"),
        notes=clean_text(data.get("notes"), "notes", 10_000, multiline=True),
        consent_basis=consent,
        consent_at=parse_datetime(data.get("consent_at"), "consent_at"),
        source=clean_text(data.get("source"), "source", 64) or "manual",
    )


def contact_to_mapping(c: ContactData) -> dict[str, Any]:
    """JSON-ready mapping; the inverse of :func:`contact_from_mapping`."""
    return {
        "display_name": c.display_name,
        "given_name": c.given_name,
        "family_name": c.family_name,
        "organisation": c.organisation,
        "email": c.email,
        "numbers": [{"type": n.kind, "number": n.raw, "e164": n.e164} for n in c.numbers],
        "street": c.street,
        "postal_code": c.postal_code,
        "city": c.city,
        "region": c.region,
        "country": c.country,
        "language": c.language,
        "tags": list(c.tags),
        "vip": c.vip,
        "notes": c.notes,
        "consent_basis": c.consent_basis,
        "consent_at": c.consent_at.isoformat() if c.consent_at else None,
        "source": c.source,
    }
