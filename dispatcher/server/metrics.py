"""Prometheus metrics: this process's deliveries and ingests, plus store-wide gauges read at scrape time.

Counters and the latency histogram count what this process did (its worker's
sends, its webhooks). Open incidents, SLA breaches and the age of the oldest
due delivery are read from the store on each scrape, so every process reports
the same truth; so are the provider routes' queues (app/queues.py): depth, the
longest wait, late pages and 429s, labelled by route name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ..app.queues import RouteQueue
from ..app.stores import Store

__all__ = ["Metrics"]

# The metric label of each kind of held-back page (the timeline calls a silence's hold "silenced").
HELD_REASON = {"silenced": "silence", "maintenance": "maintenance", "quiet-hours": "quiet-hours"}
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, store: Store, now: Callable[[], datetime],
                 queues: Callable[[], list[RouteQueue]] = list) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter("notify_deliveries", "Delivery attempts by channel and outcome.",
                                  ["channel", "outcome"], registry=self.registry)
        self.retries = Counter("notify_retries", "Attempts that were retries of a transient failure.", ["channel"],
                               registry=self.registry)
        self.latency = Histogram("notify_delivery_latency_seconds", "Time one delivery attempt took.", ["channel"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.ingested = Counter("notify_ingested", "Monitoring events received, by source and outcome.",
                                ["source", "outcome"], registry=self.registry)
        self.rejected = Counter("notify_rejected_requests", "Requests refused, by HTTP status.", ["status"],
                                registry=self.registry)
        self.auth_failures = Counter("notify_auth_failures", "Failed authentications, by the route's credential "
                                     "(hook, api, health, metrics); an address failing often is refused (429).",
                                     ["access"], registry=self.registry)
        self.registry.register(_StoreCollector(store, now, queues))
        # The labelled children of on_attempt, by label values: labels() checks and locks on every call, once per
        # delivery attempt reported (a burst's thousands); a child, once made, is the same object for good.
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def on_attempt(self, channel: str, outcome: str, attempt_no: int, latency_ms: float) -> None:
        children = self._children.get((channel, outcome))
        if children is None:
            children = self._children[(channel, outcome)] = (
                self.deliveries.labels(channel, outcome), self.latency.labels(channel))
        delivered, latency = children
        delivered.inc()
        latency.observe(latency_ms / 1000)
        if attempt_no > 1:  # rare: a retry of a transient failure
            self.retries.labels(channel).inc()

    def on_auth_failure(self, access: str) -> None:
        self.auth_failures.labels(access).inc()

    def on_ingest(self, source: str, outcome: str) -> None:
        self.ingested.labels(source, outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StoreCollector:
    def __init__(self, store: Store, now: Callable[[], datetime], queues: Callable[[], list[RouteQueue]]) -> None:
        self.store, self.now, self.queues = store, now, queues

    def collect(self) -> Iterator[object]:
        stats = self.store.stats(self.now())
        yield GaugeMetricFamily("notify_open_incidents", "Incidents not resolved yet.", value=stats["open_incidents"])
        yield CounterMetricFamily("notify_sla_breaches", "Response SLA breaches recorded (escalation stages fired).",
                                  value=stats["sla_breaches"])
        yield GaugeMetricFamily("notify_oldest_due_delivery_age_seconds",
                                "How long the oldest due delivery has waited (0 when none).",
                                value=stats["oldest_due_age"])
        yield GaugeMetricFamily("notify_pending_deliveries", "Deliveries waiting in the outbox.",
                                value=stats["pending"])
        held = CounterMetricFamily("notify_pages_held", "Pages a rule held back, by reason: silence, maintenance "
                                   "(a window) or quiet-hours (a call or text outside working hours).",
                                   labels=["reason"])
        for kind, count in self.store.held_counts().items():  # from the timeline: every process's decisions
            held.add_metric([HELD_REASON.get(kind, kind)], count)
        yield held
        late = sum(1 for row in self.store.heartbeat_rows() if row.state == "late")
        yield GaugeMetricFamily("notify_heartbeats_late", "Heartbeats gone silent (their monitoring incident open).",
                                value=late)
        waiting, failing, given_up = self.store.inbox_counts()
        yield GaugeMetricFamily("notify_inbox_waiting", "Webhooks stored and still to be handled by the worker loop.",
                                value=waiting)
        yield GaugeMetricFamily("notify_inbox_failing", "Stored webhooks whose handling failed (kept, retried).",
                                value=failing)
        yield GaugeMetricFamily("notify_inbox_given_up", "Stored webhooks no longer tried after repeated failures "
                                "(kept for inspection).", value=given_up)
        yield from _route_families(self.queues())


def _route_families(queues: list[RouteQueue]) -> Iterator[object]:
    """Per provider route, labelled by its name (never a URL, token or number): store-wide, as every process sees."""
    depth = GaugeMetricFamily("notify_route_queue_depth", "Deliveries queued for the route's rate budget.",
                              labels=["route"])
    wait = GaugeMetricFamily("notify_route_queue_wait_seconds", "How long the longest-queued delivery of the route "
                             "has waited for its rate budget (0 when none waits).", labels=["route"])
    late = GaugeMetricFamily("notify_route_late_pages", "Pages queued longer than a tenth of their response SLA.",
                             labels=["route"])
    throttled = CounterMetricFamily("notify_route_throttled", "429 (rate limited) answers the route's provider gave.",
                                    labels=["route"])
    for q in queues:
        depth.add_metric([q.route], q.depth)
        wait.add_metric([q.route], q.oldest_wait)
        late.add_metric([q.route], q.late_pages)
        throttled.add_metric([q.route], q.throttled)
    yield from (depth, wait, late, throttled)
