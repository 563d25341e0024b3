"""Prometheus metrics. One registry per app instance so tests and several apps don't clash."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Counters the runners update, plus gauges read from the live state at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ami_events = Counter("callcenter_ami_events", "AMI events received", registry=r)
        self.ami_reconnects = Counter(
            "callcenter_ami_reconnects", "AMI connections re-established", registry=r
        )
        self.ari_events = Counter("callcenter_ari_events", "ARI events received", registry=r)
        self.ari_request_seconds = Histogram(
            "callcenter_ari_request_seconds",
            "ARI REST round trip",
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.calls_finished = Counter(
            "callcenter_calls_finished", "Finished calls by outcome", ["outcome"], registry=r
        )
        self.http_requests = Counter(
            "callcenter_http_requests", "HTTP requests", ["method", "status"], registry=r
        )
        self.component_up = Gauge(
            "callcenter_component_up", "1 if the component is up", ["component"], registry=r
        )

    def add_snapshot_source(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        """Expose queue and agent gauges computed from the live-state snapshot at scrape time."""
        self.registry.register(_SnapshotCollector(snapshot))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable[GaugeMetricFamily]:
        snap = self._snapshot()
        waiting = GaugeMetricFamily(
            "callcenter_queue_callers_waiting", "Callers waiting per queue", labels=["queue"]
        )
        longest = GaugeMetricFamily(
            "callcenter_queue_longest_wait_seconds", "Longest current wait", labels=["queue"]
        )
        for name, queue in (snap.get("queues") or {}).items():
            callers = queue.get("callers") or []
            waiting.add_metric([name], len(callers))
            longest.add_metric([name], max((c.get("wait", 0) for c in callers), default=0))
        calls = GaugeMetricFamily("callcenter_calls_active", "Calls currently up")
        calls.add_metric([], len(snap.get("calls") or {}))
        yield waiting
        yield longest
        yield calls
