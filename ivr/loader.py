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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from callcenter import tenant_ref
from callcenter.phone.numbers import DEFAULT_REGION
from callcenter.phone.policy import FREE_NUMBER_CHOICES, DestinationPolicy, FreeNumbers
from ivr.callback_loader import parse_callbacks
from ivr.document import Doc
from ivr.errors import ConfigFault, ConfigFaults, ConfigWarning
from ivr.flow import Flow, check_flow
from ivr.flow_loader import (
    NAME_RE,
    check_prompts,
    parse_flow,
)
from ivr.locate import line_index, line_of
from ivr.prompts import PromptSources, check_ref_syntax
from ivr.routing_loader import parse_routing
from ivr.schedule_loader import parse_closures, parse_holidays, parse_hours
from ivr.tenancy import (
    Did,
    RoutingRules,
    StaffMember,
    Tenant,
    home_region,
)

SLUG_RE = tenant_ref.SLUG_RE


LANG_RE = re.compile(r"^[a-z]{2}$")

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
        "callbacks",
    }
)


@dataclass(frozen=True, slots=True)
class LoadedTenant:
    tenant: Tenant
    warnings: tuple[ConfigWarning, ...]
    document: str = ""  # the TOML text it was parsed from (stored in the database)


def load_tenant_file(path: Path, sources: PromptSources) -> LoadedTenant:
    """Read, parse and validate one tenant file; raises :class:`ConfigFaults`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFaults([ConfigFault(str(path), "", f"cannot read: {exc}")]) from None
    return load_tenant_text(text, sources, str(path))


def load_tenant_text(text: str, sources: PromptSources, file: str = "<memory>") -> LoadedTenant:
    """Parse a tenant document; raises :class:`ConfigFaults` listing every fault found."""
    doc = Doc(file)
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


def _parse(doc: Doc, raw: dict[str, Any], sources: PromptSources) -> Tenant | None:
    doc.unknown_keys(raw, TOP_KEYS, "")
    slug = doc.get(raw, "slug", "", str, "", required=True) or ""
    if slug and not SLUG_RE.match(slug):
        doc.fault("slug", f"{slug!r}: use lower-case letters, digits and '-' (max 40)")
    elif slug.isdigit():  # the API takes a tenant's slug or its numeric id in one place
        doc.fault("slug", f"{slug!r}: {tenant_ref.slug_problem(slug)}")
    name = doc.get(raw, "name", "", str, "", required=True) or ""
    greeting = doc.get(raw, "greeting", "", str, "", required=True) or ""
    languages, default_language = _languages(doc, raw)
    timezone = doc.get(raw, "timezone", "", str, "Europe/Berlin") or "Europe/Berlin"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        doc.fault("timezone", f"unknown time zone {timezone!r}")
    emergency = doc.get(raw, "emergency_closed", "", bool, False) or False

    hours = parse_hours(doc, doc.table(raw, "hours", ""))
    holidays = parse_holidays(doc, raw)
    closures = parse_closures(doc, raw)
    staff = _staff(doc, raw)
    routing = parse_routing(doc, doc.table(raw, "routing", ""), languages)
    flow, extra_entries = parse_flow(doc, raw, languages, routing, staff)
    dids = _dids(doc, raw, flow, routing, languages)
    texts = _recording_texts(doc, raw, languages)
    if flow is not None:
        for problem in check_flow(flow, extra_entries + tuple(d.entry for d in dids if d.entry)):
            (doc.warn if problem.warning else doc.fault)(problem.path, problem.reason)
        if languages and slug and SLUG_RE.match(slug):
            check_prompts(doc, flow, sources.inventory(slug, languages), languages)
    dialling = _dialling(doc, raw, home_region(dids, holidays))
    callbacks = parse_callbacks(doc, raw)
    if not callbacks.enabled:
        _no_callback_routes(doc, flow, routing)
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
        callbacks=callbacks,
    )


def _languages(doc: Doc, raw: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """``languages`` (two-letter codes, each once) and ``default_language`` (one of them)."""
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
    return languages, default_language


def _no_callback_routes(doc: Doc, flow: Flow | None, routing: RoutingRules) -> None:
    """With ``[callbacks] enabled = false`` nothing may send a caller to a callback."""
    why = "leads to a callback, but [callbacks] enabled = false"
    for name, node in flow.nodes.items() if flow is not None else ():
        if node.kind == "callback":
            doc.fault(f"flows.{name}.type", why)
    for i, queue in enumerate(routing.queues):
        for j, over in enumerate(queue.overflow):
            if over.action == "callback":
                doc.fault(f"routing.queues.{i}.overflow.{j}.action", why)


def _recording_texts(
    doc: Doc, raw: dict[str, Any], languages: tuple[str, ...]
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


def _dialling(doc: Doc, raw: dict[str, Any], home: str | None) -> DestinationPolicy | None:
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


def _staff(doc: Doc, raw: dict[str, Any]) -> tuple[StaffMember, ...]:
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


def _dids(
    doc: Doc,
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
