"""Stored webhooks into incidents: the worker loop's side of `notify serve`'s inbox.

`notify serve` stores an Alertmanager or Grafana notification as received and
answers at once (see :mod:`dispatcher.server.app`); a worker then runs
:func:`~dispatcher.app.ingest.ingest` on it here. The rules, and why:

- oldest first, one owner per group at a time, and no row taken while an
  older row of its group is held elsewhere or failing (the store's
  ``claim_inbox``, ``inbox_sql.choose``): a group's "resolved" never overtakes
  its "firing", across processes and across failures. Several workers triage
  at once, each its own groups: a burst's triage makes its incidents' first
  pages, so one process triaging alone kept them waiting (issue 21);
- a row is deleted as soon as the next one is taken, and the batch's last one
  after the batch's pages went out (the delete is not on a page's path): a
  worker that dies leaves at most one handled row behind, and handling one row
  twice is harmless (a repeat pages nobody, a second resolve does nothing).
  On SQLite the writes of TOGETHER rows in a row commit together (one fsync,
  not two per row; all of them or none), so a row's delete commits with the
  next row's incident, as before or not at all;
- every write about a row is conditional on still holding it, and the hold is
  renewed every 10 s of a batch: an owner that stalled past its lease learns
  that another took over, and stops;
- a row that fails is kept with its error, tried again after 2, 4, 8 ... 60 s
  (tenacity's schedule, asked with the attempt number the row keeps),
  and after GIVE_UP_AFTER attempts kept for inspection but no longer tried
  (counted as given up in /healthz and /metrics; it no longer holds up its
  group). A row whose body no longer parses is given up at once: retrying
  cannot change it. The rows behind a failed row of their group wait for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from tenacity import (
    Retrying,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from ..clock import Clock
from ..delivery.retries import after, next_wait
from ..eventlog import emit
from ..hooks import PayloadError, parse
from ..store import InboxRow, Store, StoreError, StoreRejected
from ..store.inbox_sql import GIVE_UP_AFTER
from .engine import Runtime
from .ingest import ingest, log_ingested

__all__ = ["BATCHES_PER_TICK", "GIVE_UP_AFTER", "INBOX_LEASE", "RENEW_EVERY", "Inbox", "retry_delay"]

log = logging.getLogger("notify.worker")

INBOX_LEASE = timedelta(seconds=60)  # longer than any single wait of the store (30 s)
RENEW_EVERY = timedelta(seconds=10)  # a batch renews its hold this often, so each row starts with 50 s or more
BATCHES_PER_TICK = 16  # a full tick handles at most this many batches, then fires timers and sends
# Webhooks whose writes commit together (store.writes_together): on SQLite each commit is an fsync (3 ms on
# this project's machines), and one after another a burst's triage paid two per webhook. The transaction
# holds the file's write lock, which the server's accept path waits for, while the next webhooks are
# triaged: so at most TOGETHER of them, and no more begun after TOGETHER_FOR seconds (a loaded machine).
TOGETHER = 8
TOGETHER_FOR = 0.005


# A failed webhook is tried again after 2, 4, 8, 16, 32, then 60 s (a passing store hiccup costs seconds),
# GIVE_UP_AFTER times in all, unless no retry can change it. Asked with the attempt number the row keeps.
NEVER_CHANGES = (PayloadError, UnicodeError, StoreRejected)  # a body that no longer parses, a value refused for good
RETRIES = Retrying(retry=retry_if_not_exception_type(NEVER_CHANGES), stop=stop_after_attempt(GIVE_UP_AFTER),
                   wait=wait_exponential(multiplier=2, max=60))


def retry_delay(attempt: int) -> timedelta:
    """The wait RETRIES sets after the n-th failed attempt (were it to retry)."""
    return timedelta(seconds=RETRIES.wait(after(RETRIES, attempt, error=RuntimeError())))


@dataclass
class Inbox:
    rt: Runtime
    store: Store
    clock: Clock
    owner: str
    on_ingest: Callable[[str, str], None] | None = None  # (source, outcome) per row handled
    batch: int = 64
    store_failures: int = 0  # webhooks whose handling the store failed (kept, retried): the loop is not progressing
    _held_at: datetime | None = field(default=None, init=False, repr=False)  # the batch's hold, renewed then

    def drain(self, send: Callable[[], object]) -> int:
        """Handle one batch of stored webhooks, then `send()` their pages; returns how many rows were taken."""
        now = self.clock.now()
        rows = self.store.claim_inbox(self.owner, now, now + INBOX_LEASE, limit=self.batch)
        if not rows:
            return 0
        self._held_at, handled, failed = now, None, set()  # failed: groups whose row failed in this batch
        start = 0
        while start < len(rows):
            reports: list[tuple[str, str]] = []
            with self.store.writes_together():
                handled, start = self._handle_some(rows, start, handled, failed, reports)
            for source, outcome in reports:  # once committed: a second sender told of pages finds them
                self.on_ingest(source, outcome)  # type: ignore[misc]
            if start is None:
                return len(rows)  # another owner took over: it carries on from here
        send()
        if handled is not None:
            self._delete(handled)
        if failed:  # rows skipped behind a failure: free them, or other owners would wait for this lease
            self.store.release_inbox(self.owner)
        return len(rows)

    def _handle_some(self, rows: list[InboxRow], start: int, handled: InboxRow | None, failed: set[str],
                     reports: list[tuple[str, str]]) -> tuple[InboxRow | None, int | None]:
        """Handle rows from `start`, at most TOGETHER and for at most TOGETHER_FOR seconds, each deleting the one
        handled before it (see the module); (the last handled, not deleted yet; the index of the next row, or
        None when another owner took over)."""
        began = self.clock.monotonic()
        for index in range(start, min(start + TOGETHER, len(rows))):
            if index > start and self.clock.monotonic() - began > TOGETHER_FOR:
                return handled, index  # the rest in the next transaction: the server's writes wait for this one
            row = rows[index]
            if handled is not None and not self._delete(handled):
                return None, None
            handled = None
            if row.dedup_key in failed:
                continue  # behind its group's failed row: waits for it
            if self.clock.now() - self._held_at >= RENEW_EVERY:
                if not self._renew(rows[index:]):
                    return None, None
                self._held_at = self.clock.now()
            outcome = self._handle(row, reports)
            if outcome is None:
                return None, None
            if outcome:
                handled = row
            else:
                failed.add(row.dedup_key)
        return handled, min(start + TOGETHER, len(rows))

    def _handle(self, row: InboxRow, reports: list[tuple[str, str]]) -> bool | None:
        """Ingest one stored webhook: True when done; False when it failed (kept); None when no longer ours."""
        try:
            result = ingest(self.rt, self.store, parse(row.source, row.body.encode()), self.clock.now())
        except Exception as exc:  # noqa: BLE001 - a webhook accepted is never dropped: kept, logged, retried
            return self._fail(row, exc)
        log_ingested(row.source, result, inbox_event=row.id)
        if self.on_ingest is not None:
            reports.append((row.source, result.outcome))
        return True

    def _fail(self, row: InboxRow, exc: Exception) -> bool | None:
        """Record the failure on the row; when the store cannot even do that, it is down: raise for the loop."""
        attempt = row.attempts + 1
        # A value the store refuses for good is this webhook's problem, not an outage: given up at once.
        self.store_failures += isinstance(exc, StoreError) and not isinstance(exc, StoreRejected)
        wait = next_wait(RETRIES, attempt, error=exc)
        retry_at = None if wait is None else self.clock.now() + timedelta(seconds=wait)
        reason = f"{type(exc).__name__}: {exc}"[:500]
        try:
            ours = self.store.inbox_failed(row.id, self.owner, reason, retry_at)
        except StoreError:
            if isinstance(exc, StoreError):
                raise exc from None  # the loop waits for the store; the row is still ours, taken again
            raise
        if not ours:
            return self._lost(row)
        given_up, never = retry_at is None, isinstance(exc, NEVER_CHANGES)
        emit("inbox.given-up" if given_up else "inbox.retrying", None,
             level=logging.ERROR if given_up else logging.WARNING, inbox_event=row.id,
             source=row.source, received=row.received.isoformat(), group=row.dedup_key, attempts=attempt,
             retry_at=retry_at.isoformat() if retry_at else None,
             why="it never will be as it is" if never else None, reason=reason)
        return False

    def _renew(self, rows: list[InboxRow]) -> bool:
        until = self.clock.now() + INBOX_LEASE
        return self.store.renew_inbox(self.owner, [r.id for r in rows], until) == len(rows) or self._lost(rows[0])

    def _delete(self, row: InboxRow) -> bool:
        return self.store.inbox_done(row.id, self.owner) or self._lost(row)

    @staticmethod
    def _lost(row: InboxRow) -> bool:
        log.warning("webhook %d: this worker's hold on the inbox ran out and another took over; stopping here",
                    row.id)
        return False
