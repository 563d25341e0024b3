"""Reconciliation with Asterisk's own records: ``queue_log`` legs against our call rows.

Rule of this module: parsing and comparing are pure (:func:`parse_queue_log`,
:func:`compare`); only :func:`reconcile` reads the database. Every difference is listed,
never summarised away: a leg the PBX has and we do not (``missing``), a leg we have and the
PBX does not (``extra``), a different outcome, or a wait/talk off by more than the
tolerance (app_queue logs whole seconds).

queue_log lines are ``time|callid|queue|agent|event|data1|data2|…``; ``callid`` is the
uniqueid of the queued channel, which the live state keeps per stint (``extra.stints``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import column, select, table

from callcenter.db.models import Call, UTCDateTime
from callcenter.db.session import Database
from callcenter.state.records import CallRecord
from stats.definitions import LegOutcome, facts

TOLERANCE = 1.5  # seconds; app_queue truncates to whole seconds
# queue_log verbs that end a stint, and the outcome they mean in our definitions.
_ENDS: dict[str, LegOutcome] = {
    "ABANDON": "abandoned",
    "EXITWITHTIMEOUT": "timeout",
    "EXITEMPTY": "blocked",
    "EXITWITHKEY": "diverted",
    "WITHDRAW": "diverted",
}
_TALK_ENDS = ("COMPLETEAGENT", "COMPLETECALLER", "TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER")


@dataclass(slots=True)
class PbxLeg:
    """One stint as ``queue_log`` tells it."""

    callid: str
    queue: str
    entered: float
    outcome: LegOutcome | None = None  # None: still open (or its end was not logged)
    wait: float | None = None
    talk: float | None = None
    agent: str | None = None


def _num(parts: Sequence[str], i: int) -> float | None:
    try:
        return float(parts[i])
    except (IndexError, ValueError):
        return None


def parse_queue_log(lines: Iterable[str]) -> list[PbxLeg]:
    """Legs from queue_log lines, in order of entry. Malformed lines are skipped."""
    legs: list[PbxLeg] = []
    open_legs: dict[tuple[str, str], PbxLeg] = {}
    last: dict[tuple[str, str], PbxLeg] = {}
    for line in lines:
        parts = line.rstrip("\n").split("|")
        if len(parts) < 5 or parts[1] in ("NONE", ""):
            continue
        at, callid, queue, agent, verb, data = (
            _num(parts, 0),
            parts[1],
            parts[2],
            parts[3],
            parts[4],
            parts[5:],
        )
        if at is None:
            continue
        key = (callid, queue)
        if verb == "ENTERQUEUE":
            new = PbxLeg(callid, queue, at)
            legs.append(new)
            open_legs[key] = last[key] = new
            continue
        leg = open_legs.get(key)
        if verb == "CONNECT" and leg is not None:
            leg.outcome, leg.wait, leg.agent = "answered", _num(data, 0), agent
            del open_legs[key]
        elif verb in _ENDS and leg is not None:
            leg.outcome = _ENDS[verb]
            leg.wait = _num(data, 3 if verb == "EXITWITHKEY" else 2)
            del open_legs[key]
        elif verb in _TALK_ENDS:
            done = last.get(key)
            if done is not None and done.outcome == "answered" and done.talk is None:
                done.talk = _num(data, 1) if verb.startswith("COMPLETE") else _num(data, 3)
    return legs


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str  # missing | extra | outcome | wait | talk | open
    queue: str
    callid: str
    linkedid: str | None
    ours: object = None
    pbx: object = None

    def describe(self) -> str:
        who = f"{self.queue} {self.callid}" + (f" (call {self.linkedid})" if self.linkedid else "")
        if self.kind == "missing":
            return f"missing: {who}: queue_log has a {self.pbx} leg, we have no row for it"
        if self.kind == "extra":
            return f"extra: {who}: we count a {self.ours} leg, queue_log has none"
        if self.kind == "open":
            return f"open: {who}: queue_log has no end for this leg (we say {self.ours})"
        return f"{self.kind}: {who}: ours {self.ours}, queue_log {self.pbx}"


@dataclass(slots=True)
class Reconciliation:
    legs_pbx: int = 0
    legs_ours: int = 0
    matched: int = 0
    differences: list[Difference] = field(default_factory=list)
    per_queue: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "legs_pbx": self.legs_pbx,
            "legs_ours": self.legs_ours,
            "matched": self.matched,
            "differences": [d.describe() for d in self.differences],
            "per_queue": self.per_queue,
        }


def _tally(
    per_queue: dict[str, dict[str, dict[str, int]]], side: str, queue: str, outcome: str
) -> None:
    q = per_queue.setdefault(queue, {"ours": {}, "pbx": {}})
    q[side][outcome] = q[side].get(outcome, 0) + 1


def _our_legs(
    records: Iterable[CallRecord],
) -> Iterator[tuple[CallRecord, str, str, LegOutcome, float]]:
    for record in records:
        f = facts(record)
        for leg in f.legs:
            yield record, leg.uniqueid or record.linkedid, leg.queue, leg.outcome, leg.wait


def compare(
    records: Iterable[CallRecord],
    pbx_legs: Iterable[PbxLeg],
    queues: Iterable[str] | None = None,
    tolerance: float = TOLERANCE,
) -> Reconciliation:
    """Every difference between our legs and queue_log's (only ``queues`` if given)."""
    wanted = set(queues) if queues is not None else None
    result = Reconciliation()
    ours: dict[tuple[str, str], list[tuple[CallRecord, LegOutcome, float]]] = {}
    for record, callid, queue, outcome, wait in _our_legs(records):
        if wanted is not None and queue not in wanted:
            continue
        ours.setdefault((callid, queue), []).append((record, outcome, wait))
        result.legs_ours += 1
        _tally(result.per_queue, "ours", queue, outcome)
    for leg in pbx_legs:
        if wanted is not None and leg.queue not in wanted:
            continue
        result.legs_pbx += 1
        _tally(result.per_queue, "pbx", leg.queue, leg.outcome or "open")
        mine = ours.get((leg.callid, leg.queue))
        if not mine:
            result.differences.append(
                Difference("missing", leg.queue, leg.callid, None, pbx=leg.outcome or "open")
            )
            continue
        record, outcome, wait = mine.pop(0)
        result.matched += 1
        d = _leg_differences(leg, record, outcome, wait, tolerance)
        result.differences.extend(d)
    for (callid, queue), rest in ours.items():
        for record, outcome, _ in rest:
            if outcome == "blocked":
                continue  # refused at the door (joinempty, full): app_queue logs no line
            result.differences.append(
                Difference("extra", queue, callid, record.linkedid, ours=outcome)
            )
    return result


def _leg_differences(
    leg: PbxLeg, record: CallRecord, outcome: LegOutcome, wait: float, tolerance: float
) -> list[Difference]:
    out: list[Difference] = []
    base = (leg.queue, leg.callid, record.linkedid)
    if leg.outcome is None:
        return [Difference("open", *base, ours=outcome)]
    if leg.outcome != outcome and not _rejected(leg, record, outcome):
        out.append(Difference("outcome", *base, ours=outcome, pbx=leg.outcome))
    if leg.wait is not None and abs(leg.wait - wait) > tolerance:
        out.append(Difference("wait", *base, ours=round(wait, 1), pbx=leg.wait))
    talk = record.talk_seconds
    if (
        outcome == "answered"
        and leg.talk is not None
        and talk is not None
        and abs(leg.talk - talk) > tolerance
    ):
        out.append(Difference("talk", *base, ours=round(talk, 1), pbx=leg.talk))
    return out


def _rejected(leg: PbxLeg, record: CallRecord, outcome: LegOutcome) -> bool:
    """A waiting caller hung up by a receptionist: app_queue logs ABANDON, we count the leg
    as diverted (cc_outcome ``rejected``, issue #8): the same leg, not a difference."""
    rejected = record.extra.get("cc_outcome") == "rejected"
    return rejected and (outcome, leg.outcome) == ("diverted", "abandoned")


async def reconcile(
    db: Database,
    queue_log: Iterable[str],
    start: datetime,
    end: datetime,
    *,
    tenant_id: int | None = None,
    queues: Iterable[str] | None = None,
) -> Reconciliation:
    """Compare the period's legs (PBX: entered in ``[start, end)``) with our call rows.

    Our rows are read from an hour before ``start`` (the IVR comes before the queue), and
    only the queues our rows of the tenant use are compared when ``tenant_id`` is given.
    """
    lo, hi = start.timestamp(), end.timestamp()
    pbx = [leg for leg in parse_queue_log(queue_log) if lo <= leg.entered < hi]
    query = select(Call).where(Call.entered_at >= start - timedelta(hours=1), Call.entered_at < end)
    if tenant_id is not None:
        query = query.where(Call.tenant_id == tenant_id)
    async with db.session() as session:
        records = [row.to_record() for row in (await session.scalars(query)).all()]
    callids = {leg.callid for leg in pbx}
    # Calls that entered before the window count only if the PBX has their leg in it.
    records = [
        r
        for r in records
        if r.entered_at >= start or any(leg.uniqueid in callids for leg in facts(r).legs)
    ]
    if tenant_id is not None and queues is None:
        queues = {leg.queue for r in records for leg in facts(r).legs}
    return compare(records, pbx, queues)


async def stored_queue_log(db: Database, start: datetime, end: datetime) -> list[str]:
    """queue_log lines from the app's own copy (``pbx_queue_log``, ADR 0004) as text lines,
    from ``start`` to two hours after ``end`` (ends of legs that entered in the window)."""
    t = table(
        "pbx_queue_log",
        column("id"),
        column("time", UTCDateTime),
        *(column(c) for c in ("callid", "queuename", "agent", "event")),
        *(column(f"data{i}") for i in range(1, 6)),
    )
    query = (
        select(t)
        .where(t.c.time >= start, t.c.time < end + timedelta(hours=2))
        .order_by(t.c.time, t.c.id)
    )
    async with db.session() as session:
        rows = (await session.execute(query)).all()
    out = []
    for row in rows:
        at = row.time
        data = [row.data1, row.data2, row.data3, row.data4, row.data5]
        out.append(
            "|".join([str(at.timestamp()), row.callid, row.queuename, row.agent, row.event, *data])
        )
    return out


def queue_params_view(counters: Mapping[str, int | float]) -> dict[str, int]:
    """One queue's leg counters the way ``QueueParams`` counts them.

    Asterisk's *Abandoned* is every caller who entered and left unanswered: our
    ``abandoned`` plus ``timeout`` plus the legs ``diverted`` out of the queue (withdrawn for
    a callback, exit by key), as measured on Asterisk 22 (test_stats_pbx). Callers refused at
    the door (``blocked``) never entered and are in neither count.
    """
    unanswered = ("abandoned", "timeout", "diverted")
    return {
        "Completed": int(counters.get("answered", 0)),
        "Abandoned": sum(int(counters.get(k, 0)) for k in unanswered),
    }


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
