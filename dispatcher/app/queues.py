"""What waits for a provider route's rate budget, and which of it is late: for `notify status` and /metrics.

A delivery refused a token waits in the outbox, queued (delivery/paced.py). A
page that has waited longer than a tenth of its class's response SLA is late:
the wait eats into the time a responder has to act, so both `notify status`
and /metrics flag it (domain.pacing.late_in_queue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain.pacing import late_in_queue
from ..domain.priority import Priority
from ..store import Store

__all__ = ["RouteQueue", "Waiting", "route_queues", "waiting"]


@dataclass(frozen=True)
class Waiting:
    """One delivery queued for its route's budget: for how long, why, and whether it is a late page."""

    delivery_id: int
    incident_id: str
    route: str
    waited: float  # seconds since it was first queued
    next_try: datetime | None
    why: str
    late: bool
    sla: float | None  # its class's response SLA, seconds (None: the class left the policy)

    def as_json(self) -> dict[str, Any]:
        return {"route": self.route, "waited_seconds": round(self.waited, 3),
                "next_try": self.next_try.isoformat() if self.next_try else None, "why": self.why,
                "late": self.late, "response_sla_seconds": self.sla}


@dataclass(frozen=True)
class RouteQueue:
    """A route as /metrics shows it: deliveries queued, the longest wait, late pages and 429s so far."""

    route: str
    depth: int
    oldest_wait: float
    late_pages: int
    throttled: int


def waiting(rt: Any, store: Store, now: datetime, incident_id: str | None = None) -> list[Waiting]:
    """The deliveries queued for a route's budget (of one incident), pages first, each judged late or not."""
    found = []
    for row in store.queued(incident_id):
        klass = rt.policy.classes.get(row.klass)
        sla = klass.response_sla.total_seconds() if klass is not None else None
        waited = max(0.0, (now - row.since).total_seconds())
        late = row.priority == Priority.PAGE and sla is not None and late_in_queue(waited, sla)
        found.append(Waiting(row.id, row.incident_id, row.route, waited, row.next_try, row.why, late, sla))
    return found


def route_queues(rt: Any, store: Store, now: datetime) -> list[RouteQueue]:
    """Every route with a budget or a queue: its depth, longest wait, late pages and 429 count."""
    by_route: dict[str, list[Waiting]] = {}
    for item in waiting(rt, store, now):
        by_route.setdefault(item.route, []).append(item)
    throttled = {b.route: b.bucket.throttled for b in store.budgets()}
    return [RouteQueue(route, len(items := by_route.get(route, [])), max((w.waited for w in items), default=0.0),
                       sum(w.late for w in items), throttled.get(route, 0))
            for route in sorted({*by_route, *throttled})]
