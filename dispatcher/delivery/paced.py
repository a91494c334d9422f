"""The sender's side of rate budgets: whether a delivery may go now on its provider route, and what a 429 says.

Each send on a paced route first takes a token from the route's budget in the
store (store/budgets_sql.py), shared with every other process on the store.
Without one, the delivery is *queued*: back in the outbox, due when the next
token is, marked with its route and why; no attempt is made or logged, so a
queue is never a failure and never costs a retry. When it comes due again the
claim's order applies (pages first, domain/priority.py), so an update queued
earlier never takes the token a page needs. A 429 that gets through (another
sender outside notify, a provider's limit lower than its documented one)
blocks the route for its Retry-After and halves its rate until it recovers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..api import DeliveryResult, Reason
from ..clock import Clock
from ..domain.pacing import Limit
from ..domain.priority import priority_of
from ..eventlog import emit
from ..store import DeliveryRow, Store
from .routes import Route, RouteNames

__all__ = ["Pacer", "describe"]


def describe(limit: Limit) -> str:
    """A budget as NOTIFY_RATE_LIMITS writes it: "1/s", "2/s burst 2"."""
    rate = f"{limit.rate:g}/s" if limit.rate >= 1 else f"{limit.rate * 60:g}/min"
    return rate if limit.burst <= max(1.0, limit.rate) else f"{rate} burst {limit.burst:g}"


@dataclass
class Pacer:
    """Takes each paced send's token from the store, queues a delivery that gets none, slows a route on a 429."""

    store: Store
    routes: RouteNames
    clock: Clock
    owner: str
    hold: float = 0.0  # the longest one send may take (the send deadline): sends in flight on a route count
    max_block: float = 60.0  # a Retry-After blocks a route no longer than a retry may wait (NOTIFY_RETRY_MAX_WAIT)
    _taken: dict[int, datetime] = field(default_factory=dict, init=False, repr=False)  # row id: when its token was

    def route(self, row: DeliveryRow) -> Route:
        return self.routes.of(row.channel, row.target, row.person)

    def wait(self, row: DeliveryRow) -> tuple[Route, float]:
        """(the row's route, seconds until its budget has a token: 0.0 when one was taken for this send)."""
        route = self.route(row)
        if route.limit is None:
            return route, 0.0
        now = self.clock.now()
        wait = self.store.take_budget(route.label, now, route.limit, self.hold, int(priority_of(row.kind, row.step)))
        if wait <= 0.0:
            self._taken[row.id] = now  # the send's token counts from here (see after)
        return route, wait

    def admit(self, row: DeliveryRow) -> bool:
        """Take a token for this send, or queue the row until its route has one (False: queued, do not send)."""
        route, wait = self.wait(row)
        if wait <= 0.0:
            return True
        self.queue(row, route, wait)
        return False

    def queue(self, row: DeliveryRow, route: Route, wait: float) -> None:
        """Put the row back in the outbox until its route's next token, saying why."""
        now = self.clock.now()
        due = now + timedelta(seconds=wait)
        limit = describe(route.limit) if route.limit else "no budget"
        why = (f"queued: waiting for {route.label}'s rate budget ({limit}), next try at {due:%H:%M:%S} UTC;"
               " pacing, not a failure")
        if self.store.queue_delivery(row.id, self.owner, route.label, now, due, why):
            emit("delivery.queued", row.incident_id, level=logging.INFO, step=row.step, kind=row.kind,
                 person=row.person, channel=row.channel, route=route.label, retry_in=round(wait, 2))

    def after(self, row: DeliveryRow, result: DeliveryResult, sent_at: datetime) -> None:
        """After a send that started at `sent_at`: on a paced route the next token counts from its end; a 429
        (or a provider's "rate limited") also shrinks the route's budget until it recovers."""
        route = self.route(row)
        sent_at = self._taken.pop(row.id, sent_at)  # tokens gained since it was taken, before the send, count too
        if route.limit is None:  # an unpaced route's retry waits out the Retry-After (retries.py)
            return
        if result.reason is Reason.RATE_LIMITED:
            retry_after = None if result.retry_after is None else min(result.retry_after, self.max_block)
            self.store.throttle_route(route.label, self.clock.now(), route.limit, retry_after)
        else:
            self.store.settle_budget(route.label, self.clock.now(), route.limit, sent_at)
