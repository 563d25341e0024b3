"""Parse and validate tenant files (``config/tenants/*.toml``) into :class:`Tenant` values.

Every problem becomes a :class:`ConfigFault` with the file, the dotted path inside the
document and the reason; all faults of a file are collected and raised together as
:class:`ConfigFaults`. Suspicious but legal things (merged overlapping opening intervals,
unreachable nodes) come back as warnings.

Decisions worth knowing:
- Overlapping or touching opening intervals of one day are merged (with a warning), since
  "08:00-12:00" and "11:00-14:00" can only mean 08:00–14:00. Malformed times are faults.
- Intervals do not cross midnight; ``24:00`` is allowed as an end.
- Closures given as dates include the ``to`` day; closures given as local date-times end
  at ``to`` (exclusive).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from callcenter.phone.numbers import DEFAULT_REGION
from callcenter.phone.policy import FREE_NUMBER_CHOICES, DestinationPolicy, FreeNumbers
from ivr import announce
from ivr.errors import ConfigFault, ConfigFaults, ConfigWarning
from ivr.flow import DTMF_DIGITS, Flow, Node, NodeKind, check_flow
from ivr.holidays import check_rule
from ivr.locate import line_index, line_of
from ivr.prompts import PromptSources, check_ref_syntax
from ivr.tenancy import (
    WEEKDAYS,
    Closure,
    Did,
    HolidayRule,
    Interval,
    OverflowAction,
    OverflowRule,
    OverflowWhen,
    QueueRule,
    RoutingRules,
    StaffMember,
    Tenant,
    home_region,
)

T = TypeVar("T")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
QUEUE_RE = re.compile(r"^q-[A-Za-z0-9][A-Za-z0-9_-]{0,60}$")
LANG_RE = re.compile(r"^[a-z]{2}$")
TIME_RE = re.compile(r"^(\d{2}):(\d{2})$")
TOP_KEYS = frozenset(
    {
        "slug",
        "name",
        "greeting",
        "languages",
        "default_language",
        "timezone",
        "emergency_closed",
        "hours",
        "holidays",
        "closures",
        "dids",
        "staff",
        "routing",
        "ivr",
        "flows",
        "recordings",
        "dialling",
    }
)
NODE_KEYS: dict[str, frozenset[str]] = {
    "menu": frozenset(
        {
            "prompts",
            "options",
            "timeout",
            "retries",
            "invalid_prompts",
            "receptionist_zero",
            "on_failure",
        }
    ),
    "language": frozenset(
        {
            "prompts",
            "languages",
            "next",
            "timeout",
            "retries",
            "skip_if_preselected",
            "invalid_prompts",
        }
    ),
    "time": frozenset({"targets"}),
    "queue": frozenset({"queue", "prompts"}),
    "voicemail": frozenset({"prompts", "mailbox"}),
    "callback": frozenset({"prompts", "queue"}),
    "transfer": frozenset({"staff", "prompts"}),
    "announcement": frozenset({"prompts", "next", "say_next_opening"}),
    "hangup": frozenset({"prompts"}),
}
BUILTIN_CLOSED = "_closed"  # node names from files cannot start with "_"
BUILTIN_CLOSED_VM = "_closed_voicemail"
TIME_TARGETS = frozenset({"open", "closed", "holiday", "emergency"})


@dataclass(frozen=True, slots=True)
class LoadedTenant:
    tenant: Tenant
    warnings: tuple[ConfigWarning, ...]
    document: str = ""  # the TOML text it was parsed from (stored in the database)


@dataclass(frozen=True, slots=True)
class _Ctx:
    """What node parsing checks references against."""

    languages: tuple[str, ...]
    routing: RoutingRules
    staff: tuple[StaffMember, ...]


class _Doc:
    """Typed access to a parsed TOML document that records faults instead of raising."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.faults: list[ConfigFault] = []
        self.warnings: list[ConfigWarning] = []

    def fault(self, path: str, reason: str) -> None:
        self.faults.append(ConfigFault(self.file, path, reason))

    def warn(self, path: str, reason: str) -> None:
        self.warnings.append(ConfigWarning(self.file, path, reason))

    def get(
        self,
        table: dict[str, Any],
        key: str,
        path: str,
        kind: type[T] | tuple[type, ...],
        default: T | None = None,
        *,
        required: bool = False,
    ) -> T | None:
        full = f"{path}.{key}" if path else key
        if key not in table:
            if required:
                self.fault(full, "missing")
            return default
        value = table[key]
        # bool is an int in Python; a number where a flag is expected (or vice versa) is wrong.
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            self.fault(full, f"expected {names}, got {type(value).__name__} {value!r}")
            return default
        return cast(T, value)

    def table(self, table: dict[str, Any], key: str, path: str) -> dict[str, Any]:
        return self.get(table, key, path, dict, {}) or {}

    def str_list(
        self, table: dict[str, Any], key: str, path: str, default: tuple[str, ...] = ()
    ) -> tuple[str, ...]:
        value = self.get(table, key, path, list, None)
        if value is None:
            return default
        out: list[str] = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.fault(f"{path}.{key}.{i}", f"expected str, got {item!r}")
        return tuple(out)

    def unknown_keys(self, table: dict[str, Any], allowed: Iterable[str], path: str) -> None:
        allowed = frozenset(allowed)
        for key in table:
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                self.fault(where, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def e164(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.fault(path, f"expected a phone number string, got {value!r}")
            return None
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as exc:
            self.fault(path, f"not an international number (+country…): {value!r}: {exc}")
            return None
        if not phonenumbers.is_possible_number(parsed):
            self.fault(path, f"not a possible phone number: {value!r}")
            return None
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def load_tenant_file(path: Path, sources: PromptSources) -> LoadedTenant:
    """Read, parse and validate one tenant file; raises :class:`ConfigFaults`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFaults([ConfigFault(str(path), "", f"cannot read: {exc}")]) from None
    return load_tenant_text(text, sources, str(path))


def load_tenant_text(text: str, sources: PromptSources, file: str = "<memory>") -> LoadedTenant:
    """Parse a tenant document; raises :class:`ConfigFaults` listing every fault found."""
    doc = _Doc(file)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFaults([ConfigFault(file, "", f"invalid TOML: {exc}")]) from None
    tenant = _parse(doc, raw, sources)
    if doc.faults or tenant is None:
        index = line_index(text)
        raise ConfigFaults([f.at_line(line_of(index, f.path)) for f in doc.faults])
    return LoadedTenant(tenant, tuple(doc.warnings), text)


def load_directory(directory: Path, sources: PromptSources) -> list[LoadedTenant]:
    """Every ``*.toml`` tenant of a directory, checked together (unique slugs and DIDs).

    Faults of all files are collected and raised at once.
    """
    return load_files(sorted(directory.glob("*.toml")), sources)


def load_files(paths: Iterable[Path], sources: PromptSources) -> list[LoadedTenant]:
    """The tenant files ``paths``, checked together like :func:`load_directory`."""
    faults: list[ConfigFault] = []
    loaded: list[LoadedTenant] = []
    for path in paths:
        try:
            loaded.append(load_tenant_file(path, sources))
        except ConfigFaults as exc:
            faults.extend(exc.faults)
    slugs: dict[str, str] = {}
    numbers: dict[str, str] = {}
    for item in loaded:
        tenant = item.tenant
        if tenant.slug in slugs:
            faults.append(
                ConfigFault(
                    tenant.source, "slug", f"slug {tenant.slug!r} also used by {slugs[tenant.slug]}"
                )
            )
        slugs.setdefault(tenant.slug, tenant.source)
        for i, did in enumerate(tenant.dids):
            if did.number in numbers and numbers[did.number] != tenant.slug:
                faults.append(
                    ConfigFault(
                        tenant.source,
                        f"dids.{i}.number",
                        f"{did.number} already belongs to tenant {numbers[did.number]!r}",
                    )
                )
            numbers.setdefault(did.number, tenant.slug)
    if faults:
        raise ConfigFaults(faults)
    return loaded


# --- sections ---------------------------------------------------------------------------


def _parse(doc: _Doc, raw: dict[str, Any], sources: PromptSources) -> Tenant | None:
    doc.unknown_keys(raw, TOP_KEYS, "")
    slug = doc.get(raw, "slug", "", str, "", required=True) or ""
    if slug and not SLUG_RE.match(slug):
        doc.fault("slug", f"{slug!r}: use lower-case letters, digits and '-' (max 40)")
    name = doc.get(raw, "name", "", str, "", required=True) or ""
    greeting = doc.get(raw, "greeting", "", str, "", required=True) or ""
    languages = doc.str_list(raw, "languages", "")
    if not languages and "languages" not in raw:
        doc.fault("languages", "missing")
    for i, lang in enumerate(languages):
        if not LANG_RE.match(lang):
            doc.fault(f"languages.{i}", f"{lang!r} is not a two-letter language code")
    if len(set(languages)) != len(languages):
        doc.fault("languages", "a language is listed twice")
    default_language = doc.get(raw, "default_language", "", str, "", required=True) or ""
    if default_language and languages and default_language not in languages:
        doc.fault("default_language", f"{default_language!r} is not in languages {languages}")
    timezone = doc.get(raw, "timezone", "", str, "Europe/Berlin") or "Europe/Berlin"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        doc.fault("timezone", f"unknown time zone {timezone!r}")
    emergency = doc.get(raw, "emergency_closed", "", bool, False) or False

    hours = _hours(doc, doc.table(raw, "hours", ""))
    holidays = _holidays(doc, raw)
    closures = _closures(doc, raw)
    staff = _staff(doc, raw)
    routing = _routing(doc, doc.table(raw, "routing", ""), languages)
    flow, extra_entries = _flow(doc, raw, languages, routing, staff)
    dids = _dids(doc, raw, flow, routing, languages)
    texts = _recording_texts(doc, raw, languages)
    if flow is not None:
        for problem in check_flow(flow, extra_entries + tuple(d.entry for d in dids if d.entry)):
            (doc.warn if problem.warning else doc.fault)(problem.path, problem.reason)
        if languages and slug and SLUG_RE.match(slug):
            _check_prompts(doc, flow, sources.inventory(slug, languages), languages)
    dialling = _dialling(doc, raw, home_region(dids, holidays))
    if doc.faults or flow is None:
        return None
    return Tenant(
        slug=slug,
        name=name,
        greeting=greeting,
        languages=languages,
        default_language=default_language,
        timezone=timezone,
        hours=hours,
        holidays=holidays,
        closures=closures,
        emergency_closed=emergency,
        dids=dids,
        staff=staff,
        routing=routing,
        flow=flow,
        source=doc.file,
        recording_texts=texts,
        dialling=dialling,
    )


def _recording_texts(
    doc: _Doc, raw: dict[str, Any], languages: tuple[str, ...]
) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, texts in doc.table(raw, "recordings", "").items():
        path = f"recordings.{name}"
        problem = check_ref_syntax(name)
        if problem:
            doc.fault(path, problem)
            continue
        if not isinstance(texts, dict):
            doc.fault(path, "expected a table language = text")
            continue
        for lang, text in texts.items():
            if lang not in languages:
                doc.fault(f"{path}.{lang}", f"{lang!r} is not an offered language {languages}")
            elif not isinstance(text, str) or not text.strip():
                doc.fault(f"{path}.{lang}", "expected the non-empty text of the recording")
            else:
                out.setdefault(name, {})[lang] = text
    return out


def _clock(doc: _Doc, text: str, path: str, is_end: bool) -> int | None:
    match = TIME_RE.match(text.strip())
    if not match:
        doc.fault(path, f"malformed time {text!r} (expected HH:MM)")
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if (hour, minute) == (24, 0) and is_end:
        return 86400
    if hour > 23 or minute > 59:
        doc.fault(path, f"time {text!r} out of range (00:00–23:59, 24:00 only as an end)")
        return None
    return hour * 3600 + minute * 60


def _hours(doc: _Doc, table: dict[str, Any]) -> tuple[tuple[Interval, ...], ...]:
    doc.unknown_keys(table, WEEKDAYS, "hours")
    week: list[tuple[Interval, ...]] = []
    for day in WEEKDAYS:
        intervals: list[Interval] = []
        for i, spec in enumerate(doc.str_list(table, day, "hours")):
            path = f"hours.{day}.{i}"
            start_text, sep, end_text = spec.partition("-")
            if not sep:
                doc.fault(path, f"malformed interval {spec!r} (expected HH:MM-HH:MM)")
                continue
            start = _clock(doc, start_text, path, is_end=False)
            end = _clock(doc, end_text, path, is_end=True)
            if start is None or end is None:
                continue
            if end <= start:
                doc.fault(path, f"interval {spec!r} ends before it starts (split it at 24:00)")
                continue
            intervals.append(Interval(start, end))
        week.append(_merge(doc, intervals, f"hours.{day}"))
    return tuple(week)


def _merge(doc: _Doc, intervals: list[Interval], path: str) -> tuple[Interval, ...]:
    merged: list[Interval] = []
    overlapped = False
    for iv in sorted(intervals, key=lambda x: x.start):
        if merged and iv.start <= merged[-1].end:
            overlapped = overlapped or iv.start < merged[-1].end
            merged[-1] = Interval(merged[-1].start, max(merged[-1].end, iv.end))
        else:
            merged.append(iv)
    if overlapped:
        doc.warn(path, "overlapping intervals merged")
    return tuple(merged)


def _holidays(doc: _Doc, raw: dict[str, Any]) -> HolidayRule | None:
    if "holidays" not in raw:
        return None
    table = doc.table(raw, "holidays", "")
    doc.unknown_keys(table, ("country", "state", "open_on"), "holidays")
    country = doc.get(table, "country", "holidays", str, "DE") or "DE"
    state = doc.get(table, "state", "holidays", str, None)
    open_on = frozenset(doc.str_list(table, "open_on", "holidays"))
    problem = check_rule(country, state)
    if problem:
        doc.fault("holidays.state" if state else "holidays.country", problem)
    return HolidayRule(country, state, open_on)


def _dialling(doc: _Doc, raw: dict[str, Any], home: str | None) -> DestinationPolicy | None:
    """``[dialling]``: countries outgoing legs may reach, who may dial typed numbers."""
    if "dialling" not in raw:
        return None
    table = doc.table(raw, "dialling", "")
    doc.unknown_keys(table, ("countries", "free_numbers"), "dialling")
    home = home or DEFAULT_REGION
    countries = doc.str_list(table, "countries", "dialling", (home,))
    for i, code in enumerate(countries):
        if code not in phonenumbers.SUPPORTED_REGIONS:
            doc.fault(f"dialling.countries.{i}", f"unknown region code {code!r}")
    free = doc.get(table, "free_numbers", "dialling", str, "supervisor") or "supervisor"
    if free not in FREE_NUMBER_CHOICES:
        doc.fault("dialling.free_numbers", f"{free!r}: one of {', '.join(FREE_NUMBER_CHOICES)}")
    if doc.faults:
        return None
    return DestinationPolicy(frozenset(countries), home, cast(FreeNumbers, free))


def _moment(doc: _Doc, value: Any, path: str, is_end: bool) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            doc.fault(path, f"malformed date {value!r} (YYYY-MM-DD or YYYY-MM-DDTHH:MM)")
            return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            doc.fault(path, "give local time without offset (the tenant's time zone applies)")
            return None
        return value
    if isinstance(value, date):
        start = datetime.combine(value, time())
        return start + timedelta(days=1) if is_end else start
    doc.fault(path, f"expected a date or local date-time, got {value!r}")
    return None


def _closures(doc: _Doc, raw: dict[str, Any]) -> tuple[Closure, ...]:
    out: list[Closure] = []
    for i, item in enumerate(doc.get(raw, "closures", "", list, []) or []):
        path = f"closures.{i}"
        if not isinstance(item, dict):
            doc.fault(path, "expected a table with from, to, reason")
            continue
        doc.unknown_keys(item, ("from", "to", "reason"), path)
        if "from" not in item or "to" not in item:
            doc.fault(path, "needs both 'from' and 'to'")
            continue
        start = _moment(doc, item["from"], f"{path}.from", is_end=False)
        end = _moment(doc, item["to"], f"{path}.to", is_end=True)
        reason = doc.get(item, "reason", path, str, "") or ""
        if start is None or end is None:
            continue
        if end <= start:
            doc.fault(path, "'to' is before 'from'")
            continue
        out.append(Closure(start, end, reason))
    return tuple(out)


def _staff(doc: _Doc, raw: dict[str, Any]) -> tuple[StaffMember, ...]:
    out: list[StaffMember] = []
    seen: set[str] = set()
    for i, item in enumerate(doc.get(raw, "staff", "", list, []) or []):
        path = f"staff.{i}"
        if not isinstance(item, dict):
            doc.fault(path, "expected a table with id, name, number")
            continue
        doc.unknown_keys(item, ("id", "name", "number", "note"), path)
        sid = doc.get(item, "id", path, str, "", required=True) or ""
        if sid and not NAME_RE.match(sid):
            doc.fault(f"{path}.id", f"{sid!r}: letters, digits, '-' and '_' only")
        if sid in seen:
            doc.fault(f"{path}.id", f"duplicate staff id {sid!r}")
        seen.add(sid)
        name = doc.get(item, "name", path, str, "", required=True) or ""
        number = doc.e164(item.get("number"), f"{path}.number")
        note = doc.get(item, "note", path, str, "") or ""
        if sid and number:
            out.append(StaffMember(sid, name, number, note))
    return tuple(out)


def _routing(doc: _Doc, table: dict[str, Any], languages: tuple[str, ...]) -> RoutingRules:
    doc.unknown_keys(
        table,
        (
            "queues",
            "language_from_number",
            "language_by_region",
            "vip_numbers",
            "vip_priority",
            "default_priority",
            "voicemail_box",
            "announce_after",
            "announce_every",
        ),
        "routing",
    )
    by_region: dict[str, str] = {}
    for region, lang in doc.table(table, "language_by_region", "routing").items():
        path = f"routing.language_by_region.{region}"
        if region not in phonenumbers.SUPPORTED_REGIONS:
            doc.fault(path, f"unknown region code {region!r}")
        elif not isinstance(lang, str) or lang not in languages:
            doc.fault(path, f"{lang!r} is not an offered language {languages}")
        else:
            by_region[region] = lang
    vips = frozenset(
        n
        for i, v in enumerate(doc.get(table, "vip_numbers", "routing", list, []) or [])
        if (n := doc.e164(v, f"routing.vip_numbers.{i}"))
    )
    queues: list[QueueRule] = []
    for i, item in enumerate(doc.get(table, "queues", "routing", list, []) or []):
        rule = _queue(doc, item, f"routing.queues.{i}", languages)
        if rule is not None:
            if any(q.name == rule.name for q in queues):
                doc.fault(f"routing.queues.{i}.name", f"duplicate queue {rule.name!r}")
            queues.append(rule)
    names = {q.name for q in queues}
    for i, rule in enumerate(queues):
        for j, over in enumerate(rule.overflow):
            if over.action == "queue" and over.queue not in names:
                doc.fault(
                    f"routing.queues.{i}.overflow.{j}.queue",
                    f"unknown queue {over.queue!r} (define it in routing.queues)",
                )
    for lang in languages:
        if not any(q.language == lang for q in queues):
            doc.fault("routing.queues", f"no queue serves offered language {lang!r}")
    return RoutingRules(
        queues=tuple(queues),
        language_from_number=doc.get(table, "language_from_number", "routing", bool, False)
        or False,
        language_by_region=by_region,
        vip_numbers=vips,
        vip_priority=doc.get(table, "vip_priority", "routing", int, 10) or 0,
        default_priority=doc.get(table, "default_priority", "routing", int, 0) or 0,
        voicemail_box=doc.get(table, "voicemail_box", "routing", str, "") or "",
        announce_after=_seconds(doc, table, "announce_after", 30.0),
        announce_every=_seconds(doc, table, "announce_every", 60.0),
    )


def _seconds(doc: _Doc, table: dict[str, Any], key: str, default: float) -> float:
    value = doc.get(table, key, "routing", (int, float), default)
    seconds = float(value if value is not None else default)
    if not 0 <= seconds <= 3600:
        doc.fault(f"routing.{key}", f"{seconds:g}: seconds must be 0..3600 (0 turns it off)")
        return default
    return seconds


def _queue(doc: _Doc, item: Any, path: str, languages: tuple[str, ...]) -> QueueRule | None:
    if not isinstance(item, dict):
        doc.fault(path, "expected a table with name, language")
        return None
    doc.unknown_keys(item, ("name", "language", "skill", "overflow"), path)
    name = doc.get(item, "name", path, str, "", required=True) or ""
    if name and not QUEUE_RE.match(name):
        doc.fault(
            f"{path}.name",
            f"{name!r}: the app_queue name, 'q-' then letters, digits, "
            "'-' and '_' (the cc-queue dialplan only queues q-… names)",
        )
    lang = doc.get(item, "language", path, str, "", required=True) or ""
    if lang and lang not in languages:
        doc.fault(f"{path}.language", f"{lang!r} is not an offered language {languages}")
    skill = doc.get(item, "skill", path, str, "general") or "general"
    rules: list[OverflowRule] = []
    for j, over in enumerate(doc.get(item, "overflow", path, list, []) or []):
        rule = _overflow(doc, over, f"{path}.overflow.{j}")
        if rule is not None:
            rules.append(rule)
    return QueueRule(name, lang, skill, tuple(rules)) if name else None


def _overflow(doc: _Doc, item: Any, path: str) -> OverflowRule | None:
    if not isinstance(item, dict):
        doc.fault(path, "expected a table with when, action")
        return None
    doc.unknown_keys(item, ("when", "action", "threshold", "queue"), path)
    when = doc.get(item, "when", path, str, "", required=True) or ""
    action = doc.get(item, "action", path, str, "", required=True) or ""
    threshold = doc.get(item, "threshold", path, int, 0) or 0
    queue = doc.get(item, "queue", path, str, None)
    ok = True
    if when and when not in get_args(OverflowWhen):
        doc.fault(f"{path}.when", f"{when!r}: use one of {', '.join(get_args(OverflowWhen))}")
        ok = False
    if action and action not in get_args(OverflowAction):
        doc.fault(f"{path}.action", f"{action!r}: use one of {', '.join(get_args(OverflowAction))}")
        ok = False
    if when in ("wait_over", "callers_over") and threshold <= 0:
        doc.fault(f"{path}.threshold", f"a positive threshold is needed for {when}")
        ok = False
    if action == "queue" and not queue:
        doc.fault(f"{path}.queue", "action 'queue' needs the overflow queue")
        ok = False
    if not (ok and when and action):
        return None
    return OverflowRule(cast(OverflowWhen, when), cast(OverflowAction, action), threshold, queue)


def _dids(
    doc: _Doc,
    raw: dict[str, Any],
    flow: Flow | None,
    routing: RoutingRules,
    languages: tuple[str, ...],
) -> tuple[Did, ...]:
    out: list[Did] = []
    items = doc.get(raw, "dids", "", list, []) or []
    if not items:
        doc.fault("dids", "a tenant needs at least one number")
    for i, item in enumerate(items):
        path = f"dids.{i}"
        if not isinstance(item, dict):
            doc.fault(path, "expected a table with number")
            continue
        doc.unknown_keys(item, ("number", "entry", "queue", "language"), path)
        number = doc.e164(item.get("number"), f"{path}.number")
        entry = doc.get(item, "entry", path, str, None)
        queue = doc.get(item, "queue", path, str, None)
        lang = doc.get(item, "language", path, str, None)
        if entry and queue:
            doc.fault(path, "give either entry (IVR node) or queue, not both")
        if entry and flow is not None and entry not in flow.nodes:
            doc.fault(f"{path}.entry", f"unknown node {entry!r}")
        if queue and routing.queue(queue) is None:
            doc.fault(f"{path}.queue", f"unknown queue {queue!r}")
        if lang and lang not in languages:
            doc.fault(f"{path}.language", f"{lang!r} is not an offered language {languages}")
        if number in {d.number for d in out}:
            doc.fault(f"{path}.number", f"duplicate number {number}")
        if number:
            out.append(Did(number, entry, queue, lang))
    return tuple(out)


# --- flows ------------------------------------------------------------------------------


def _flow(
    doc: _Doc,
    raw: dict[str, Any],
    languages: tuple[str, ...],
    routing: RoutingRules,
    staff: tuple[StaffMember, ...],
) -> tuple[Flow | None, tuple[str, ...]]:
    ivr = doc.table(raw, "ivr", "")
    doc.unknown_keys(ivr, ("entry", "receptionist", "closed"), "ivr")
    entry = doc.get(ivr, "entry", "ivr", str, "", required=True) or ""
    receptionist = doc.get(ivr, "receptionist", "ivr", str, "", required=True) or ""
    tables = doc.table(raw, "flows", "")
    if not tables:
        doc.fault("flows", "no flow nodes defined")
        return None, ()
    nodes: dict[str, Node] = {}
    for name, table in tables.items():
        path = f"flows.{name}"
        if not NAME_RE.match(name):
            doc.fault(path, "node names: letters, digits, '-' and '_' only")
        if not isinstance(table, dict):
            doc.fault(path, "expected a table")
            continue
        node = _node(doc, name, table, path, _Ctx(languages, routing, staff))
        if node is not None:
            nodes[name] = node
    closed = doc.get(ivr, "closed", "ivr", str, None)
    if closed is None:
        # No closed node configured: a built-in one says "nobody is available", when the
        # tenant opens again, and takes a voicemail (all of it exists in de and en).
        closed = BUILTIN_CLOSED
        nodes[BUILTIN_CLOSED] = Node(
            BUILTIN_CLOSED,
            "announcement",
            prompts=("vm-nobodyavail",),
            say_next_opening=True,
            next=BUILTIN_CLOSED_VM,
        )
        nodes[BUILTIN_CLOSED_VM] = Node(BUILTIN_CLOSED_VM, "voicemail")
    if not entry or not receptionist:
        return None, ()
    return Flow(nodes, entry, receptionist, closed), ()


def _digit_map(doc: _Doc, table: dict[str, Any], key: str, path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for digit, target in doc.table(table, key, path).items():
        where = f"{path}.{key}.{digit}"
        if digit not in DTMF_DIGITS:
            doc.fault(where, f"{digit!r} is not a single DTMF key (0-9, *, #)")
        elif not isinstance(target, str):
            doc.fault(where, f"expected a node name, got {target!r}")
        else:
            out[digit] = target
    return out


def _node(doc: _Doc, name: str, table: dict[str, Any], path: str, ctx: _Ctx) -> Node | None:
    kind = doc.get(table, "type", path, str, "", required=True) or ""
    if kind not in NODE_KEYS:
        if kind:
            doc.fault(f"{path}.type", f"{kind!r}: use one of {', '.join(NODE_KEYS)}")
        return None
    doc.unknown_keys(table, NODE_KEYS[kind] | {"type"}, path)
    fields: dict[str, Any] = {"name": name, "kind": cast(NodeKind, kind)}
    fields["prompts"] = doc.str_list(table, "prompts", path)
    for i, ref in enumerate(fields["prompts"]):
        problem = check_ref_syntax(ref)
        if problem:
            doc.fault(f"{path}.prompts.{i}", problem)
    if "invalid_prompts" in table:
        fields["invalid_prompts"] = doc.str_list(table, "invalid_prompts", path)
    timeout = doc.get(table, "timeout", path, (int, float), 5.0)
    if timeout is not None and not 1 <= float(timeout) <= 60:
        doc.fault(f"{path}.timeout", f"{timeout} s: use 1–60 seconds")
    fields["timeout"] = float(timeout or 5.0)
    retries = doc.get(table, "retries", path, int, 3) or 3
    if not 1 <= retries <= 9:
        doc.fault(f"{path}.retries", f"{retries}: use 1–9 attempts")
    fields["retries"] = retries
    _kind_fields(doc, table, path, fields, ctx)
    return Node(**fields)


def _kind_fields(
    doc: _Doc, table: dict[str, Any], path: str, fields: dict[str, Any], ctx: _Ctx
) -> None:
    get: Callable[..., Any] = doc.get
    kind, languages, routing, staff = fields["kind"], ctx.languages, ctx.routing, ctx.staff
    if kind in ("menu", "language") and not fields["prompts"]:
        doc.fault(f"{path}.prompts", f"a {kind} node needs at least one prompt")
    if kind == "menu":
        fields["options"] = _digit_map(doc, table, "options", path)
        if not fields["options"]:
            doc.fault(f"{path}.options", "a menu needs at least one option")
        fields["receptionist_zero"] = get(table, "receptionist_zero", path, bool, True)
        fields["on_failure"] = get(table, "on_failure", path, str, None)
    elif kind == "language":
        fields["languages"] = _digit_map(doc, table, "languages", path)
        for digit, lang in fields["languages"].items():
            if lang not in languages:
                doc.fault(f"{path}.languages.{digit}", f"{lang!r} is not offered {languages}")
        fields["next"] = get(table, "next", path, str, None, required=True)
        fields["skip_if_preselected"] = get(table, "skip_if_preselected", path, bool, True)
    elif kind == "time":
        targets = doc.table(table, "targets", path)
        fields["targets"] = {}
        for status, target in targets.items():
            if status not in TIME_TARGETS:
                doc.fault(f"{path}.targets.{status}", f"use {', '.join(sorted(TIME_TARGETS))}")
            elif isinstance(target, str):
                fields["targets"][status] = target
            else:
                doc.fault(f"{path}.targets.{status}", f"expected a node name, got {target!r}")
        for needed in ("open", "closed"):
            if needed not in targets:
                doc.fault(f"{path}.targets.{needed}", "missing")
    elif kind in ("queue", "callback"):
        queue = get(table, "queue", path, str, None)
        if queue and routing.queue(queue) is None:
            doc.fault(f"{path}.queue", f"unknown queue {queue!r}")
        fields["queue"] = queue
    elif kind == "voicemail":
        fields["mailbox"] = get(table, "mailbox", path, str, None)
    elif kind == "transfer":
        sid = get(table, "staff", path, str, None, required=True)
        if sid and not any(m.id == sid for m in staff):
            doc.fault(f"{path}.staff", f"unknown staff member {sid!r}")
        fields["staff"] = sid
    elif kind == "announcement":
        fields["next"] = get(table, "next", path, str, None)
        fields["say_next_opening"] = get(table, "say_next_opening", path, bool, False)


def _check_prompts(doc: _Doc, flow: Flow, inventory: Any, languages: tuple[str, ...]) -> None:
    """Every prompt a node can play must exist in every offered language."""
    for node in flow.nodes.values():
        groups: list[tuple[str, tuple[str, ...]]] = [("prompts", node.prompts)]
        if node.kind in ("menu", "language"):
            groups.append(("invalid_prompts", node.invalid_prompts))
        for key, refs in groups:
            for i, ref in enumerate(refs):
                for lang in languages:
                    if not inventory.has(ref, lang):
                        doc.fault(
                            f"flows.{node.name}.{key}.{i}",
                            f"prompt {ref!r} missing in language {lang!r}",
                        )
        if node.say_next_opening:
            for lang in languages:
                missing = [
                    r for r in announce.next_opening_prompts(lang) if not inventory.has(r, lang)
                ]
                if missing:
                    doc.fault(
                        f"flows.{node.name}.say_next_opening",
                        f"sounds missing in language {lang!r}: {', '.join(missing)}",
                    )
    for lang in languages:
        missing = [r for r in announce.POSITION_PROMPTS if not inventory.has(r, lang)]
        if missing:
            doc.fault(
                "languages", f"queue announcement sounds missing in {lang!r}: {', '.join(missing)}"
            )
