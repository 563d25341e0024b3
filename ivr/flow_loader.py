"""The IVR flow tables of a tenant file (``[ivr]``, ``[flows.*]``) into a :class:`Flow`,
checked against the tenant's languages, queues, staff and prompts (part of
:mod:`ivr.loader`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from ivr import announce
from ivr.document import Doc
from ivr.flow import DTMF_DIGITS, Flow, Node, NodeKind
from ivr.prompts import check_ref_syntax
from ivr.tenancy import (
    RoutingRules,
    StaffMember,
)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

BUILTIN_CLOSED = "_closed"  # node names from files cannot start with "_"

BUILTIN_CLOSED_VM = "_closed_voicemail"

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

TIME_TARGETS = frozenset({"open", "closed", "holiday", "emergency"})


@dataclass(frozen=True, slots=True)
class FlowContext:
    """What node parsing checks references against."""

    languages: tuple[str, ...]
    routing: RoutingRules
    staff: tuple[StaffMember, ...]


def parse_flow(
    doc: Doc,
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
        node = _node(doc, name, table, path, FlowContext(languages, routing, staff))
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


def _digit_map(doc: Doc, table: dict[str, Any], key: str, path: str) -> dict[str, str]:
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


def _node(doc: Doc, name: str, table: dict[str, Any], path: str, ctx: FlowContext) -> Node | None:
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
    doc: Doc, table: dict[str, Any], path: str, fields: dict[str, Any], ctx: FlowContext
) -> None:
    kind = fields["kind"]
    if kind in ("menu", "language") and not fields["prompts"]:
        doc.fault(f"{path}.prompts", f"a {kind} node needs at least one prompt")
    read = _KIND_FIELDS.get(kind)
    if read is not None:
        read(doc, table, path, fields, ctx)


def _menu_fields(
    doc: Doc, table: dict[str, Any], path: str, fields: dict[str, Any], ctx: FlowContext
) -> None:
    fields["options"] = _digit_map(doc, table, "options", path)
    if not fields["options"]:
        doc.fault(f"{path}.options", "a menu needs at least one option")
    fields["receptionist_zero"] = doc.get(table, "receptionist_zero", path, bool, True)
    fields["on_failure"] = doc.get(table, "on_failure", path, str, None)


def _language_fields(
    doc: Doc, table: dict[str, Any], path: str, fields: dict[str, Any], ctx: FlowContext
) -> None:
    fields["languages"] = _digit_map(doc, table, "languages", path)
    for digit, lang in fields["languages"].items():
        if lang not in ctx.languages:
            doc.fault(f"{path}.languages.{digit}", f"{lang!r} is not offered {ctx.languages}")
    fields["next"] = doc.get(table, "next", path, str, None, required=True)
    fields["skip_if_preselected"] = doc.get(table, "skip_if_preselected", path, bool, True)


def _time_fields(
    doc: Doc, table: dict[str, Any], path: str, fields: dict[str, Any], ctx: FlowContext
) -> None:
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


def _queue_fields(
    doc: Doc, table: dict[str, Any], path: str, fields: dict[str, Any], ctx: FlowContext
) -> None:
    queue = doc.get(table, "queue", path, str, None)
    if queue and ctx.routing.queue(queue) is None:
        doc.fault(f"{path}.queue", f"unknown queue {queue!r}")
    fields["queue"] = queue


def _voicemail_fields(
    doc: Doc, table: dict[str, Any], path: str, fields: dict[str, Any], ctx: FlowContext
) -> None:
    fields["mailbox"] = doc.get(table, "mailbox", path, str, None)


def _transfer_fields(
    doc: Doc, table: dict[str, Any], path: str, fields: dict[str, Any], ctx: FlowContext
) -> None:
    sid = doc.get(table, "staff", path, str, None, required=True)
    if sid and not any(m.id == sid for m in ctx.staff):
        doc.fault(f"{path}.staff", f"unknown staff member {sid!r}")
    fields["staff"] = sid


def _announcement_fields(
    doc: Doc, table: dict[str, Any], path: str, fields: dict[str, Any], ctx: FlowContext
) -> None:
    fields["next"] = doc.get(table, "next", path, str, None)
    fields["say_next_opening"] = doc.get(table, "say_next_opening", path, bool, False)


_KindReader = Callable[[Doc, dict[str, Any], str, dict[str, Any], FlowContext], None]
_KIND_FIELDS: dict[str, _KindReader] = {
    "menu": _menu_fields,
    "language": _language_fields,
    "time": _time_fields,
    "queue": _queue_fields,
    "callback": _queue_fields,
    "voicemail": _voicemail_fields,
    "transfer": _transfer_fields,
    "announcement": _announcement_fields,
}


def check_prompts(doc: Doc, flow: Flow, inventory: Any, languages: tuple[str, ...]) -> None:
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
