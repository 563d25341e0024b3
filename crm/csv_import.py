"""CSV → contacts: column mapping, per-row validation with line numbers. Pure (text in).

A mapping says which CSV column feeds which contact field::

    {"display_name": "Name", "mobile": "Handy", "work": "Telefon", "email": "E-Mail"}

Without a mapping the header is matched against common German and English column names
(:data:`ALIASES`). Number fields (``mobile``, ``work``, ``home``, ``fax``, ``switchboard``,
``phone``) may hold several numbers separated by ``,`` ``;`` or ``|``... only when the file's
own delimiter is different. Each bad row becomes a :class:`RowError` with its line number
(the physical line the record starts on, header = line 1) and the rest are returned.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callcenter.phone.numbers import DEFAULT_REGION
from crm.contact import ContactData, ValidationError, contact_from_mapping

NUMBER_FIELDS = {
    "mobile": "mobile",
    "work": "work",
    "home": "home",
    "fax": "fax",
    "switchboard": "switchboard",
    "phone": "other",
}
TEXT_FIELDS = (
    "display_name",
    "given_name",
    "family_name",
    "organisation",
    "email",
    "street",
    "postal_code",
    "city",
    "region",
    "country",
    "language",
    "tags",
    "vip",
    "notes",
    "consent_basis",
    "consent_at",
)
FIELDS = (*TEXT_FIELDS, *NUMBER_FIELDS)

ALIASES: dict[str, tuple[str, ...]] = {
    "display_name": ("name", "display name", "anzeigename", "full name", "fn"),
    "given_name": ("first name", "given name", "vorname", "firstname"),
    "family_name": ("last name", "family name", "surname", "nachname", "lastname"),
    "organisation": ("organisation", "organization", "company", "firma", "unternehmen"),
    "email": ("email", "e-mail", "mail", "email address", "e-mail-adresse"),
    "mobile": ("mobile", "cell", "handy", "mobil", "mobiltelefon", "mobile phone"),
    "work": ("work", "work phone", "business phone", "telefon geschäftlich", "büro"),
    "home": ("home", "home phone", "privat", "telefon privat"),
    "fax": ("fax", "telefax"),
    "switchboard": ("switchboard", "zentrale"),
    "phone": ("phone", "telefon", "tel", "telephone", "number", "nummer", "rufnummer"),
    "street": ("street", "straße", "strasse", "address", "adresse"),
    "postal_code": ("postal code", "zip", "plz", "postcode", "zip code"),
    "city": ("city", "ort", "stadt", "town"),
    "region": ("region", "state", "bundesland"),
    "country": ("country", "land"),
    "language": ("language", "sprache", "lang"),
    "tags": ("tags", "categories", "kategorien", "schlagworte"),
    "vip": ("vip",),
    "notes": ("notes", "note", "notiz", "notizen", "bemerkung", "comment"),
    "consent_basis": ("consent", "consent basis", "rechtsgrundlage", "einwilligung"),
    "consent_at": ("consent date", "consent at", "einwilligung am"),
}


class MappingError(ValueError):
    """The column mapping refers to unknown fields or to columns missing from the header."""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    reason: str
    field: str | None = None


@dataclass
class CsvParse:
    rows: list[tuple[int, ContactData]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    delimiter: str = ","


def mapping_from_json(text: str) -> dict[str, str]:
    """A mapping written as JSON (API query, ``--mapping``); raises :class:`MappingError`."""
    try:
        mapping = json.loads(text)
    except ValueError:
        raise MappingError("the mapping must be a JSON object (field → column)") from None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise MappingError("the mapping must be a JSON object of strings (field → column)")
    return mapping


def _norm_header(h: str) -> str:
    return re.sub(r"[\s_]+", " ", h.strip().lower().lstrip("\ufeff"))


def detect_mapping(header: list[str]) -> dict[str, str]:
    """Guess field → column from header names (exact field names win over aliases)."""
    by_norm = {_norm_header(h): h for h in header}
    mapping: dict[str, str] = {}
    for fld in FIELDS:
        for cand in (fld.replace("_", " "), *ALIASES.get(fld, ())):
            if cand in by_norm and by_norm[cand] not in mapping.values():
                mapping[fld] = by_norm[cand]
                break
    return mapping


def _sniff_delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def parse(
    text: str, mapping: Mapping[str, str] | None = None, region: str = DEFAULT_REGION
) -> CsvParse:
    """Parse CSV ``text``; see the module doc for ``mapping``. Raises :class:`MappingError`."""
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration as exc:
        raise MappingError("the file is empty (no header line)") from exc
    header = [h.strip() for h in header]
    if mapping is None:
        used = detect_mapping(header)
    else:
        unknown = sorted(set(mapping) - set(FIELDS))
        if unknown:
            raise MappingError(f"unknown target field(s): {', '.join(unknown)}")
        missing = sorted(c for c in mapping.values() if c not in header)
        if missing:
            raise MappingError(f"column(s) not in the header: {', '.join(missing)}")
        used = dict(mapping)
    if not any(f in used for f in ("display_name", "given_name", "family_name", "organisation")):
        raise MappingError("no name column mapped (display_name, given/family name, organisation)")
    index = {fld: header.index(col) for fld, col in used.items()}
    result = CsvParse(mapping=used, delimiter=delimiter)
    multi = re.compile(r"[|,;]" if delimiter == "\t" else ("[|;]" if delimiter == "," else "[|,]"))
    prev_end = reader.line_num
    while True:
        line = prev_end + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a field over the limit: this record only is bad
            prev_end = reader.line_num
            result.errors.append(RowError(line, _csv_reason(exc)))
            continue
        prev_end = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            result.errors.append(
                RowError(line, f"{len(cells)} columns but the header has {len(header)}")
            )
            continue
        padded = cells + [""] * (len(header) - len(cells))
        try:
            result.rows.append((line, _row_to_contact(padded, index, multi, region)))
        except ValidationError as exc:
            result.errors.append(RowError(line, exc.reason, _column(exc.field, used)))
    return result


def _csv_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return f"a field is longer than {csv.field_size_limit()} characters"
    return f"not CSV: {text}"


def _column(fld: str, mapping: Mapping[str, str]) -> str:
    """Report errors with the CSV column name the user knows."""
    base = fld.split("[", 1)[0].split(".", 1)[0]
    return mapping.get(base, fld)


def _row_to_contact(
    cells: list[str], index: Mapping[str, int], multi: re.Pattern[str], region: str
) -> ContactData:
    data: dict[str, Any] = {}
    numbers: list[dict[str, str]] = []
    for fld, col in index.items():
        value = cells[col].strip()
        if fld in NUMBER_FIELDS:
            for part in multi.split(value):
                if part.strip():
                    numbers.append({"type": NUMBER_FIELDS[fld], "number": part.strip()})
        elif value:
            data[fld] = value
    data["numbers"] = numbers
    data["source"] = "import:csv"
    try:
        return contact_from_mapping(data, region)
    except ValidationError as exc:
        if exc.field.startswith("numbers["):
            i = int(exc.field[8 : exc.field.index("]")])
            kind = numbers[i]["type"]
            fld = next(k for k, v in NUMBER_FIELDS.items() if v == kind)
            raise ValidationError(fld, exc.reason) from exc
        raise
