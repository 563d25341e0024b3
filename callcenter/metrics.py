"""Prometheus metrics. One registry per app instance so tests and several apps don't clash."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Counters the runners update, plus gauges read from the live state at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
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

    def add_latency_source(self, name: str, summary: Callable[[], Any]) -> None:
        """Expose recent round-trip percentiles (p50/p99/max) of a client, e.g. ARI REST."""
        self.registry.register(_LatencyCollector(name, summary))

    def add_counter_source(self, name: str, documentation: str, read: Callable[[], int]) -> None:
        """Expose a count a client keeps itself (events received, reconnects), read at scrape
        time, so that no listener runs per event just to count."""
        self.registry.register(_CountCollector(name, documentation, read))

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


class _LatencyCollector(Collector):
    def __init__(self, name: str, summary: Callable[[], Any]) -> None:
        self._name, self._summary = name, summary

    def collect(self) -> Iterable[GaugeMetricFamily]:
        s = self._summary()
        family = GaugeMetricFamily(
            f"callcenter_{self._name}_request_seconds",
            f"{self._name} round trip over recent requests",
            labels=["quantile"],
        )
        for label, value in (("0.5", s.p50), ("0.99", s.p99), ("1", s.max)):
            family.add_metric([label], value)
        yield family


class _CountCollector(Collector):
    def __init__(self, name: str, documentation: str, read: Callable[[], int]) -> None:
        self._name, self._documentation, self._read = name, documentation, read

    def collect(self) -> Iterable[CounterMetricFamily]:
        yield CounterMetricFamily(self._name, self._documentation, value=self._read())
