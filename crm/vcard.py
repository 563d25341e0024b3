"""vCard 3.0 (RFC 2426) and 4.0 (RFC 6350) reader and writer for contacts.

Pure text in, text out. Covers what a front desk needs: FN, N, ORG, TEL, EMAIL, ADR, NOTE,
CATEGORIES, LANG plus ``X-CALLCENTER-*`` extensions (VIP flag, consent) so that an
export → import round trip keeps every field. Handles line folding (75 octets, never inside a
UTF-8 sequence), value escaping (``\\ \\, \\; \\n``), grouped names (``item1.TEL``), 3.0 and 4.0
``TYPE`` spellings and ``tel:`` URIs. Every problem is reported with the line it starts on;
one bad card does not stop the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from callcenter.phone.numbers import DEFAULT_REGION
from crm.contact import (
    ContactData,
    NumberEntry,
    ValidationError,
    contact_from_mapping,
)

VERSIONS = ("3.0", "4.0")

# Our number kinds → vCard TYPE values, and back (first match wins when reading).
_KIND_TO_TYPES = {
    "mobile": ("cell", "voice"),
    "work": ("work", "voice"),
    "home": ("home", "voice"),
    "fax": ("fax",),
    "pager": ("pager",),
    "switchboard": ("work", "x-switchboard"),
    "other": ("voice",),
}
_TYPE_TO_KIND = (
    ("x-switchboard", "switchboard"),
    ("fax", "fax"),
    ("cell", "mobile"),
    ("pager", "pager"),
    ("work", "work"),
    ("home", "home"),
)


@dataclass(frozen=True, slots=True)
class ContentLine:
    """One unfolded property: ``NAME;PARAM=V:value`` (names and param names upper-cased)."""

    line: int
    name: str
    params: dict[str, list[str]]
    value: str


@dataclass(frozen=True, slots=True)
class CardError:
    line: int
    reason: str


@dataclass
class ParseResult:
    """Cards parsed (with the line they start on) and errors (with their line)."""

    cards: list[tuple[int, ContactData]] = field(default_factory=list)
    errors: list[CardError] = field(default_factory=list)


# ---------------------------------------------------------------- reading


def unfold(text: str) -> Iterator[tuple[int, str]]:
    """Yield (first line number, logical line); folded continuations start with space/tab."""
    current: str | None = None
    start = 0
    for no, physical in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        if physical[:1] in (" ", "\t") and current is not None:
            current += physical[1:]
            continue
        if current is not None and current != "":
            yield start, current
        current, start = physical, no
    if current:
        yield start, current


def _split_unquoted(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside double quotes."""
    parts: list[str] = []
    buf: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
            continue
        if ch == sep and not quoted:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return parts


def parse_line(no: int, line: str) -> ContentLine:
    """Parse one logical line. Raises ValueError naming the problem."""
    quoted = False
    colon = -1
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            colon = i
            break
    if colon <= 0:
        raise ValueError("no ':' separating the property name from its value")
    head, value = line[:colon], line[colon + 1 :]
    pieces = _split_unquoted(head, ";")
    name = pieces[0].rsplit(".", 1)[-1].strip().upper()  # drop group prefix "item1."
    if not re.fullmatch(r"[A-Z0-9-]+", name):
        raise ValueError(f"invalid property name {pieces[0]!r}")
    params: dict[str, list[str]] = {}
    for p in pieces[1:]:
        if "=" in p:
            key, val = p.split("=", 1)
            values = [v for v in _split_unquoted(val, ",") if v]
        else:  # vCard 2.1 style bare type ("TEL;WORK:")
            key, values = "TYPE", [p]
        params.setdefault(key.strip().upper(), []).extend(v.strip() for v in values)
    return ContentLine(no, name, params, value)


def unescape(value: str) -> str:
    out: list[str] = []
    it = iter(value)
    for ch in it:
        if ch == "\\":
            nxt = next(it, "")
            out.append("\n" if nxt in ("n", "N") else nxt)
        else:
            out.append(ch)
    return "".join(out)


def split_escaped(value: str, sep: str) -> list[str]:
    """Split on ``sep`` not preceded by a backslash, then unescape each part."""
    parts: list[str] = []
    buf: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            buf.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append(unescape("".join(buf)))
            buf = []
        else:
            buf.append(ch)
    parts.append(unescape("".join(buf)))
    return parts


def _types(cl: ContentLine) -> list[str]:
    return [t.lower() for t in cl.params.get("TYPE", [])]


@dataclass
class _Card:
    """What the content lines of one vCard said so far."""

    data: dict[str, object] = field(default_factory=dict)
    numbers: list[dict[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    version: str | None = None
    address: tuple[str, str, str, str, str] = ("", "", "", "", "")  # street … country


def _version(card: _Card, cl: ContentLine) -> None:
    card.version = cl.value.strip()


def _fn(card: _Card, cl: ContentLine) -> None:
    card.data["display_name"] = unescape(cl.value)


def _n(card: _Card, cl: ContentLine) -> None:
    parts = [*split_escaped(cl.value, ";"), "", ""]
    card.data["family_name"], card.data["given_name"] = parts[0], parts[1]


def _org(card: _Card, cl: ContentLine) -> None:
    card.data["organisation"] = split_escaped(cl.value, ";")[0]


def _read_tel(card: _Card, cl: ContentLine) -> None:
    raw = cl.params.get("X-RAW", [None])[0]
    number = unescape(cl.value).strip()
    if number.lower().startswith("tel:"):
        number = number[4:].split(";", 1)[0]
    types = _types(cl)
    kind = next((k for t, k in _TYPE_TO_KIND if t in types), "other")
    card.numbers.append({"type": kind, "number": raw or number})


def _email(card: _Card, cl: ContentLine) -> None:
    if "email" not in card.data:
        card.data["email"] = unescape(cl.value).strip()


def _adr(card: _Card, cl: ContentLine) -> None:
    if not card.address[0]:
        parts = [*split_escaped(cl.value, ";"), *[""] * 7]
        card.address = (parts[2], parts[3], parts[4], parts[5], parts[6])


def _note(card: _Card, cl: ContentLine) -> None:
    card.data["notes"] = unescape(cl.value)


def _categories(card: _Card, cl: ContentLine) -> None:
    card.tags.extend(t for t in split_escaped(cl.value, ",") if t.strip())


def _lang(card: _Card, cl: ContentLine) -> None:
    card.data["language"] = unescape(cl.value).strip()


def _vip(card: _Card, cl: ContentLine) -> None:
    card.data["vip"] = cl.value.strip().lower() == "true"


def _consent(card: _Card, cl: ContentLine) -> None:
    parts = [*split_escaped(cl.value, ";"), ""]
    card.data["consent_basis"], card.data["consent_at"] = parts[0] or None, parts[1] or None


_READERS: dict[str, Callable[[_Card, ContentLine], None]] = {
    "VERSION": _version,
    "FN": _fn,
    "N": _n,
    "ORG": _org,
    "TEL": _read_tel,
    "EMAIL": _email,
    "ADR": _adr,
    "NOTE": _note,
    "CATEGORIES": _categories,
    "LANG": _lang,
    "X-CALLCENTER-LANGUAGE": _lang,
    "X-CALLCENTER-VIP": _vip,
    "X-CALLCENTER-CONSENT": _consent,
}


def _card_to_contact(lines: list[ContentLine], region: str) -> ContactData:
    card = _Card()
    for cl in lines:
        reader = _READERS.get(cl.name)
        if reader is not None:
            reader(card, cl)
    if card.version not in VERSIONS:
        raise ValidationError("VERSION", f"unsupported vCard version {card.version!r} (3.0 or 4.0)")
    data = card.data
    street, city, reg, postal, country = card.address
    data.update(street=street, city=city, region=reg, postal_code=postal, country=country)
    data["tags"] = card.tags
    data["numbers"] = card.numbers
    data["source"] = "import:vcard"
    return contact_from_mapping(data, region)


def parse(text: str, region: str = DEFAULT_REGION) -> ParseResult:
    """Parse every ``BEGIN:VCARD … END:VCARD`` block in ``text``."""
    result = ParseResult()
    card: list[ContentLine] | None = None
    card_start = 0
    card_broken = False
    for no, raw in unfold(text):
        try:
            cl = parse_line(no, raw)
        except ValueError as exc:
            result.errors.append(CardError(no, str(exc)))
            card_broken = card is not None
            continue
        if cl.name == "BEGIN" and cl.value.strip().upper() == "VCARD":
            if card is not None:
                result.errors.append(CardError(card_start, "BEGIN:VCARD without END:VCARD"))
            card, card_start, card_broken = [], no, False
        elif cl.name == "END" and cl.value.strip().upper() == "VCARD":
            if card is None:
                result.errors.append(CardError(no, "END:VCARD without BEGIN:VCARD"))
            elif not card_broken:
                try:
                    result.cards.append((card_start, _card_to_contact(card, region)))
                except ValidationError as exc:
                    result.errors.append(CardError(card_start, f"{exc.field}: {exc.reason}"))
            card = None
        elif card is None:
            result.errors.append(CardError(no, f"{cl.name} outside BEGIN:VCARD/END:VCARD"))
        else:
            card.append(cl)
    if card is not None:
        result.errors.append(CardError(card_start, "BEGIN:VCARD without END:VCARD"))
    return result


# ---------------------------------------------------------------- writing


def escape(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\n")
        .replace("\n", "\\n")
    )


def fold(line: str, limit: int = 75) -> str:
    """Fold a content line to ``limit`` octets per physical line, on character boundaries."""
    out: list[str] = []
    buf, size = "", 0
    for ch in line:
        n = len(ch.encode("utf-8"))
        # continuation lines carry one leading space, so they hold limit - 1 octets of text
        cap = limit if not out else limit - 1
        if size + n > cap:
            out.append(buf)
            buf, size = "", 0
        buf += ch
        size += n
    out.append(buf)
    return "\r\n ".join(out)


def _prop(name: str, value: str, params: Iterable[str] = ()) -> str:
    head = ";".join([name, *params])
    return fold(f"{head}:{value}")


def serialize(contacts: Iterable[ContactData], version: str = "4.0") -> str:
    """Write contacts as vCards (CRLF line endings, folded lines)."""
    if version not in VERSIONS:
        raise ValueError(f"unsupported vCard version {version!r}")
    v4 = version == "4.0"
    lines: list[str] = []
    for c in contacts:
        lines += ["BEGIN:VCARD", f"VERSION:{version}"]
        lines.append(_prop("FN", escape(c.display_name)))
        lines.append(_prop("N", f"{escape(c.family_name)};{escape(c.given_name)};;;"))
        if c.organisation:
            lines.append(_prop("ORG", escape(c.organisation)))
        for n in c.numbers:
            lines.append(_tel(n, v4))
        if c.email:
            params = ["TYPE=work"] if v4 else ["TYPE=INTERNET"]
            lines.append(_prop("EMAIL", escape(c.email), params))
        if any((c.street, c.city, c.region, c.postal_code, c.country)):
            parts = ["", "", c.street, c.city, c.region, c.postal_code, c.country]
            lines.append(_prop("ADR", ";".join(escape(p) for p in parts)))
        if c.notes:
            lines.append(_prop("NOTE", escape(c.notes)))
        if c.tags:
            lines.append(_prop("CATEGORIES", ",".join(escape(t) for t in c.tags)))
        if c.language:
            lines.append(_prop("LANG" if v4 else "X-CALLCENTER-LANGUAGE", escape(c.language)))
        if c.vip:
            lines.append("X-CALLCENTER-VIP:TRUE")
        if c.consent_basis or c.consent_at:
            at = c.consent_at.isoformat() if isinstance(c.consent_at, datetime) else ""
            lines.append(_prop("X-CALLCENTER-CONSENT", f"{c.consent_basis or ''};{escape(at)}"))
        lines.append("END:VCARD")
    return "".join(line + "\r\n" for line in lines)


def _tel(n: NumberEntry, v4: bool) -> str:
    types = _KIND_TO_TYPES.get(n.kind, ("voice",))
    if v4:
        # RFC 6350 prefers tel: URIs; the number as entered travels in X-RAW so it survives.
        raw = n.raw.replace('"', "")
        params = ["VALUE=uri", f'TYPE="{",".join(types)}"', f'X-RAW="{raw}"']
        return _prop("TEL", f"tel:{n.e164}", params)
    return _prop("TEL", escape(n.raw), [f"TYPE={','.join(t.upper() for t in types)}"])
