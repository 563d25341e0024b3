"""The snapshot's shape as its consumers read it: /metrics gauges and /api/live filtering."""

from __future__ import annotations

import json

from callcenter.app import _filter_snapshot
from callcenter.metrics import Metrics
from callcenter.state.live import LiveState
from tests.fixtures.state.builder import Pbx


def two_tenants() -> tuple[LiveState, Pbx]:
    state = LiveState(queue_tenants={"q-acme-de": "acme", "q-beta-de": "beta"})
    pbx = Pbx()
    for tenant, queue, number in (
        ("acme", "q-acme-de", "+4930111222"),
        ("beta", "q-beta-de", "+4930333444"),
    ):
        _, two = pbx.inbound("+493012345600", number, tenant=tenant)
        pbx.to_queue(two, queue)
        pbx.wait(4)
    for msg in pbx.log:
        state.apply(msg)
    return state, pbx


def test_snapshot_is_json_and_keyed_for_lookup() -> None:
    state, pbx = two_tenants()
    snap = json.loads(json.dumps(state.snapshot(pbx.t)))
    assert set(snap) == {"at", "calls", "queues", "agents", "channels"}
    assert all(lid == call["linkedid"] for lid, call in snap["calls"].items())
    acme = snap["queues"]["q-acme-de"]
    assert acme["tenant"] == "acme"
    [caller] = acme["callers"]
    assert (caller["tenant"], caller["wait"], caller["position"]) == ("acme", 8.0, 1)


def test_metrics_gauges_read_the_snapshot() -> None:
    state, pbx = two_tenants()
    metrics = Metrics()
    metrics.add_snapshot_source(lambda: state.snapshot(pbx.t))
    text = metrics.render().decode()
    assert 'callcenter_queue_callers_waiting{queue="q-acme-de"} 1.0' in text
    assert 'callcenter_queue_longest_wait_seconds{queue="q-acme-de"} 8.0' in text
    assert "callcenter_calls_active 2.0" in text


def test_tenant_filter_keeps_only_the_tenants_own_calls_and_queues() -> None:
    state, pbx = two_tenants()
    filtered = _filter_snapshot(state.snapshot(pbx.t), {"acme"})
    assert [c["tenant"] for c in filtered["calls"].values()] == ["acme"]
    assert list(filtered["queues"]) == ["q-acme-de"]
    assert filtered["agents"] == {}
