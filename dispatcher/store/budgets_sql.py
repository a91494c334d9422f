"""Rate budgets per provider route, shared by every process on one store, and the deliveries queued for them.

Each route's token bucket (domain/pacing.py) is a row of `rate_budgets`, read,
decided on and written back in one transaction under a lock on that route (a
PostgreSQL advisory lock; SQLite's one writer), so two workers, or two hosts on
one PostgreSQL, share a route's rate instead of each spending it whole. Bucket
times are seconds since the epoch (plain numbers: the arithmetic is on them).

A delivery refused a token goes back to the outbox *queued*: pending, due when
the route's next token is, with the route's name, since when it waits, and why.
That is no attempt: nothing is logged as failed and no retry is counted. The
queue marks are cleared when the delivery is attempted (sql.SETTLE).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from ..domain.pacing import Bucket, Limit, settle, take, throttle
from ..domain.states import DeliveryState
from .times import loaded

__all__ = ["BudgetRow", "QueuedRow", "RateBudgets"]

_BUCKET = ", ".join(f.name for f in fields(Bucket))
BUDGET = f"SELECT {_BUCKET} FROM rate_budgets WHERE route = %s"
SAVE = (f"INSERT INTO rate_budgets (route, {_BUCKET}) VALUES ({', '.join(['%s'] * (len(fields(Bucket)) + 1))})"
        " ON CONFLICT (route)"
        " DO UPDATE SET " + ", ".join(f"{f.name} = EXCLUDED.{f.name}" for f in fields(Bucket)))
# A row of higher priority (a lower rank) already queued for this route: it has the route's next token.
AHEAD = (f"SELECT 1 FROM deliveries WHERE status = '{DeliveryState.PENDING}' AND queued_route = %s AND priority < %s"
         " LIMIT 1")
BUDGETS = f"SELECT route, {_BUCKET} FROM rate_budgets ORDER BY route"
# Only a row this owner holds goes back: one whose lease ran out and another sender took is theirs now.
QUEUE = (f"UPDATE deliveries SET status = '{DeliveryState.PENDING}', lease_owner = NULL, lease_until = NULL,"
         " next_attempt_at = %s, queued_route = %s, queued_since = COALESCE(queued_since, %s), reason = 'queued',"
         f" detail = %s, updated = %s WHERE id = %s AND status = '{DeliveryState.IN_FLIGHT}' AND lease_owner = %s")
QUEUED = ("SELECT d.id, d.incident_id, i.class, d.kind, d.step, d.priority, d.queued_route, d.queued_since,"
          " d.next_attempt_at, d.detail FROM deliveries d JOIN incidents i ON i.id = d.incident_id"
          f" WHERE d.status = '{DeliveryState.PENDING}' AND d.queued_route IS NOT NULL{{where}}"
          " ORDER BY d.priority, d.queued_since, d.id")


@dataclass(frozen=True)
class BudgetRow:
    """A route's budget as stored: its bucket (times as seconds since the epoch)."""

    route: str
    bucket: Bucket

    @property
    def blocked_until(self) -> datetime | None:
        """Until when a 429's Retry-After blocks the route (None: never blocked)."""
        return datetime.fromtimestamp(self.bucket.blocked_until, UTC) if self.bucket.blocked_until else None


@dataclass(frozen=True)
class QueuedRow:
    """A delivery waiting for its route's budget."""

    id: int
    incident_id: str
    klass: str
    kind: str
    step: int
    priority: int
    route: str
    since: datetime
    next_try: datetime | None
    why: str


class RateBudgets:
    """The budget table's methods. A store provides `dialect`, `_read`, `_write`, `_statement` and `_serialise`."""

    def take_budget(self, route: str, now: datetime, limit: Limit, hold: float = 0.0,
                    priority: int | None = None) -> float:
        """Take one send's token from `route`'s budget at `now`: 0.0 when taken, else the seconds until one will
        be there (nothing is taken then). `hold`: the longest the send may take (domain.pacing.take).
        `priority`: the send's rank; while a delivery of a higher one waits queued for the route, it gets none
        (a page is never behind an update, whenever each came due)."""
        return self._decide(route, lambda bucket, at: take(bucket, at, limit, hold), now,
                            ahead=None if priority is None else (route, priority), behind=1.0 / limit.rate)

    def settle_budget(self, route: str, now: datetime, limit: Limit, sent_at: datetime) -> None:
        """A send on `route` that started at `sent_at` ended at `now`: the next token counts from its end."""
        sent = sent_at.timestamp()
        self._decide(route, lambda bucket, at: (settle(bucket, at, limit, sent), 0.0), now)

    def throttle_route(self, route: str, now: datetime, limit: Limit, retry_after: float | None) -> None:
        """The provider answered `route`'s send with a 429 at `now`: block it `retry_after` seconds (None: it did
        not say) and slow it down until it recovers (domain.pacing.throttle)."""
        self._decide(route, lambda bucket, at: (throttle(bucket, at, limit, retry_after), 0.0), now)

    def budgets(self) -> list[BudgetRow]:
        """Every route's budget, by name."""
        return [BudgetRow(row[0], Bucket(*row[1:])) for row in self._read(BUDGETS)]  # type: ignore[attr-defined]

    def queue_delivery(self, delivery_id: int, owner: str, route: str, now: datetime, due: datetime,
                       why: str) -> bool:
        """Put a delivery `owner` leases back in the outbox to wait for `route`'s budget until `due`, saying
        `why`; False when it is no longer this owner's."""
        t = self.dialect.t  # type: ignore[attr-defined]
        args = (t(due, "due"), route, t(now, "now"), why, t(now, "now"), delivery_id, owner)
        return self._statement(self.dialect.q(QUEUE), args)[0] == 1  # type: ignore[attr-defined]

    def queued(self, incident_id: str | None = None) -> list[QueuedRow]:
        """The deliveries waiting for a route's budget (of one incident), pages first, longest waiting first."""
        where, args = (" AND d.incident_id = %s", (incident_id,)) if incident_id else ("", ())
        rows = self._read(self.dialect.q(QUEUED.format(where=where)), args)  # type: ignore[attr-defined]
        return [QueuedRow(*row[:7], loaded(row[7]), loaded(row[8]), row[9] or "") for row in rows]

    def _decide(self, route: str, decide: Any, now: datetime, ahead: tuple[str, int] | None = None,
                behind: float = 0.0) -> float:
        """Read `route`'s bucket, decide on it and write it back, in one transaction holding the route; `behind`
        without deciding when a delivery ranked before `ahead`'s is queued for the route."""
        at = now.timestamp()
        q = self.dialect.q  # type: ignore[attr-defined]

        def work(conn: Any) -> float:
            self._serialise(conn, "budget", route)  # type: ignore[attr-defined]
            if ahead is not None and conn.execute(q(AHEAD), ahead).fetchone():
                return behind
            found = conn.execute(q(BUDGET), (route,)).fetchone()
            bucket, wait = decide(Bucket(*found) if found else None, at)
            conn.execute(q(SAVE), (route, *(getattr(bucket, f.name) for f in fields(Bucket))))
            return wait

        return self._write(work)  # type: ignore[attr-defined]
