"""Stored webhooks into incidents: the worker loop's side of `notify serve`'s inbox.

`notify serve` stores an Alertmanager or Grafana notification as received and
answers at once (see :mod:`dispatcher.server.app`); a worker then runs
:func:`~dispatcher.ingest.ingest` on it here. The rules, and why:

- one owner of the inbox at a time, oldest first, one row per group per claim
  (the store's ``claim_inbox``): a group's "resolved" never overtakes its
  "firing", across processes and across failures;
- a row is deleted as soon as the next one is taken, and the batch's last one
  after the batch's pages went out (the delete is not on a page's path): a
  worker that dies leaves at most one handled row behind, and handling one row
  twice is harmless (a repeat pages nobody, a second resolve does nothing);
- the delete is conditional on still holding the row: an owner that stalled
  past its lease learns that another took over, and stops;
- a row that fails is kept with its error, tried again after 2, 4, 8 ... 60 s,
  and after GIVE_UP_AFTER attempts kept for inspection but no longer tried
  (counted as given up in /healthz and /metrics; it no longer holds up its group).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from .clock import Clock
from .engine import Runtime
from .hooks.model import parse
from .ingest import ingest
from .store import InboxRow, Store, StoreError
from .store.inbox_sql import GIVE_UP_AFTER

__all__ = ["BATCHES_PER_TICK", "GIVE_UP_AFTER", "INBOX_LEASE", "Inbox", "retry_delay"]

log = logging.getLogger("notify.worker")

INBOX_LEASE = timedelta(seconds=60)  # longer than any wait of the store (30 s), so a slow write never loses it
INBOX_MARGIN = timedelta(seconds=15)  # no new row is started this close to the lease's end; the next claim renews it
BATCHES_PER_TICK = 16  # a full tick handles at most this many batches, then fires timers and sends


def retry_delay(attempt: int) -> timedelta:
    """After the n-th failed attempt: 2, 4, 8, 16, 32, then 60 s (a passing store hiccup costs seconds)."""
    return timedelta(seconds=min(60, 2 ** attempt))


@dataclass
class Inbox:
    rt: Runtime
    store: Store
    clock: Clock
    owner: str
    on_ingest: Callable[[str, str], None] | None = None  # (source, outcome) per row handled
    batch: int = 64

    def drain(self, send: Callable[[], object]) -> int:
        """Handle one batch of stored webhooks, then `send()` their pages; returns how many rows were taken."""
        now = self.clock.now()
        rows = self.store.claim_inbox(self.owner, now.isoformat(), (now + INBOX_LEASE).isoformat(), limit=self.batch)
        if not rows:
            return 0
        stop_at = now + INBOX_LEASE - INBOX_MARGIN
        handled: InboxRow | None = None  # deleted once the next row is taken, or after the pages
        for row in rows:
            if handled is not None and not self._delete(handled):
                return len(rows)  # another owner took over: it carries on from here
            handled = None
            if self.clock.now() >= stop_at:
                break  # the rest are still ours: the caller's next claim renews the lease for them
            if self._handle(row):
                handled = row
        send()
        if handled is not None:
            self._delete(handled)
        return len(rows)

    def _handle(self, row: InboxRow) -> bool:
        """Ingest one stored webhook; False (and the row kept, failed) when that raised."""
        try:
            result = ingest(self.rt, self.store, parse(row.source, row.body.encode()), self.clock.now())
        except Exception as exc:  # noqa: BLE001 - a webhook accepted is never dropped: kept, logged, retried
            self._fail(row, exc)
            return False
        if self.on_ingest is not None:
            self.on_ingest(row.source, result.outcome)
        return True

    def _fail(self, row: InboxRow, exc: Exception) -> None:
        """Record the failure on the row; when the store cannot even do that, it is down: raise for the loop."""
        attempt = row.attempts + 1
        retry_at = self.clock.now() + retry_delay(attempt)
        reason = f"{type(exc).__name__}: {exc}"[:500]
        try:
            self.store.inbox_failed(row.id, reason, retry_at.isoformat())
        except StoreError:
            if isinstance(exc, StoreError):
                raise exc from None  # the loop waits for the store; the row is still ours, taken again
            raise
        where = f"webhook {row.id} from {row.source} (received {row.received}, group {row.dedup_key})"
        if attempt >= GIVE_UP_AFTER:
            log.error("%s could not be handled after %d attempts; given up, kept in the inbox: %s",
                      where, attempt, reason)
        else:
            log.error("%s could not be handled, attempt %d, retrying at %s: %s",
                      where, attempt, retry_at.isoformat(), reason)

    def _delete(self, row: InboxRow) -> bool:
        if self.store.inbox_done(row.id, self.owner):
            return True
        log.warning("webhook %d: this worker's hold on the inbox ran out and another took over; stopping here",
                    row.id)
        return False
