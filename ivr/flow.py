"""IVR flow graph: node types and the structural checks done at load time.

A tenant has one namespace of named nodes (``[flows.<name>]``); DIDs and the tenant's
``[ivr]`` section name the entry node. Menus get an implicit "0 → receptionist" option
unless they disable it, and fall back to the receptionist after their retries, so both
edges count when looking for loops without exit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

NodeKind = Literal[
    "menu",
    "language",
    "time",
    "queue",
    "voicemail",
    "callback",
    "transfer",
    "announcement",
    "hangup",
]
TERMINAL_KINDS: frozenset[str] = frozenset({"queue", "voicemail", "callback", "transfer", "hangup"})
DTMF_DIGITS = frozenset("0123456789*#")


@dataclass(frozen=True, slots=True)
class Node:
    """One step of a flow. Which fields matter depends on ``kind``:

    - menu: prompts, options (digit → node), timeout, retries, invalid_prompts,
      receptionist_zero, on_failure (node after the last retry; default the receptionist)
    - language: prompts, languages (digit → language), next, timeout, retries,
      skip_if_preselected
    - time: targets (status → node; keys open, closed, holiday, emergency; closed is the
      default for the others)
    - queue: queue (app_queue name) or, if empty, the queue for the caller's language
    - voicemail: prompts (said before recording), mailbox
    - callback: prompts, queue (whose agents call back)
    - transfer: staff (staff member id)
    - announcement: prompts, say_next_opening, next (None: hang up afterwards)
    - hangup: prompts
    """

    name: str
    kind: NodeKind
    prompts: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    languages: dict[str, str] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)
    next: str | None = None
    timeout: float = 5.0
    retries: int = 3
    invalid_prompts: tuple[str, ...] = ("pbx-invalid",)
    receptionist_zero: bool = True
    on_failure: str | None = None
    skip_if_preselected: bool = True
    queue: str | None = None
    mailbox: str | None = None
    staff: str | None = None
    say_next_opening: bool = False

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL_KINDS or (self.kind == "announcement" and self.next is None)


@dataclass(frozen=True, slots=True)
class Flow:
    """All nodes of a tenant, its default entry, the receptionist node ("0") and the node
    a call starts in when the tenant is closed (announcement, then usually voicemail)."""

    nodes: dict[str, Node]
    entry: str
    receptionist: str
    closed: str

    def node(self, name: str) -> Node:
        return self.nodes[name]

    def edges(self, node: Node) -> Iterator[tuple[str, str]]:
        """(label, target) pairs leaving ``node``, implicit receptionist edges included."""
        if node.kind == "menu":
            for digit, target in node.options.items():
                yield f"options.{digit}", target
            if node.receptionist_zero and "0" not in node.options:
                yield "receptionist", self.receptionist
            yield "on_failure", node.on_failure or self.receptionist
        elif node.kind == "language":
            if node.next is not None:
                yield "next", node.next
        elif node.kind == "time":
            for status, target in node.targets.items():
                yield f"targets.{status}", target
        elif node.kind == "announcement" and node.next is not None:
            yield "next", node.next


@dataclass(frozen=True, slots=True)
class FlowProblem:
    """A structural problem; ``path`` is relative to the document (``flows.main.options.3``)."""

    path: str
    reason: str
    warning: bool = False


def check_flow(flow: Flow, extra_entries: tuple[str, ...] = ()) -> list[FlowProblem]:
    """Dangling targets, unreachable nodes (warning) and loops without exit."""
    problems: list[FlowProblem] = []
    for ref, label in (
        (flow.entry, "ivr.entry"),
        (flow.receptionist, "ivr.receptionist"),
        (flow.closed, "ivr.closed"),
    ):
        if ref not in flow.nodes:
            problems.append(FlowProblem(label, f"unknown node {ref!r}"))
    for node in flow.nodes.values():
        for label, target in flow.edges(node):
            if target not in flow.nodes and label not in ("receptionist", "on_failure"):
                problems.append(
                    FlowProblem(f"flows.{node.name}.{label}", f"dangling target {target!r}")
                )
            elif target not in flow.nodes and label == "on_failure" and node.on_failure:
                problems.append(
                    FlowProblem(f"flows.{node.name}.on_failure", f"dangling target {target!r}")
                )
    if any(not p.warning for p in problems):
        return problems
    problems.extend(_unreachable(flow, extra_entries))
    problems.extend(_loops_without_exit(flow))
    return problems


def _successors(flow: Flow, name: str) -> list[str]:
    return [t for _, t in flow.edges(flow.nodes[name]) if t in flow.nodes]


def _reachable(flow: Flow, starts: list[str]) -> set[str]:
    seen: set[str] = set()
    stack = [s for s in starts if s in flow.nodes]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(_successors(flow, name))
    return seen


def _unreachable(flow: Flow, extra_entries: tuple[str, ...]) -> list[FlowProblem]:
    seen = _reachable(flow, [flow.entry, flow.receptionist, flow.closed, *extra_entries])
    return [
        FlowProblem(f"flows.{name}", "node is unreachable from every entry", warning=True)
        for name in flow.nodes
        if name not in seen
    ]


def _loops_without_exit(flow: Flow) -> list[FlowProblem]:
    """Nodes on a cycle from which no terminal node can be reached.

    A caller stuck there would go round forever, so this is an error, reported once per
    cycle at its alphabetically first node (stable messages for tests and humans).
    """
    can_exit = {n for n, node in flow.nodes.items() if node.terminal}
    changed = True
    while changed:  # backwards fixpoint: a node exits if any successor exits
        changed = False
        for name in flow.nodes:
            if name not in can_exit and any(s in can_exit for s in _successors(flow, name)):
                can_exit.add(name)
                changed = True
    stuck = [n for n in flow.nodes if n not in can_exit]
    problems: list[FlowProblem] = []
    reported: set[str] = set()
    for name in sorted(stuck):
        if name in reported:
            continue
        cycle = _reachable(flow, [name])
        if name in _reachable(flow, _successors(flow, name)):
            members = sorted(cycle & set(stuck))
            reported.update(members)
            problems.append(
                FlowProblem(
                    f"flows.{name}",
                    "loop without exit: no queue, voicemail, callback, transfer or hang-up "
                    f"is reachable from {', '.join(members)}",
                )
            )
    return problems
